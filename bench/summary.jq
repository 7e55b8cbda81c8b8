# bench/summary.jq: builds summary.json from the tables bench/report
# gathers (all passed with --rawfile):
#   meas      bench/collect's TSV (one line per measured fio job)
#   limits    rep test size MB/s lat_typical lat_avg lat_p99 (perftest)
#   phases    rep system key value (each system's phase.txt)
#   offload   rep system key value (smbdirectd's counters at the end of
#             "ours" and "ours-copy")
#   wl        bench/workloads.list
#   envh envg config run   KEY=VALUE lines
#   hostload  "epoch load1 load5 load15" samples of the host

def lines: split("\n") | map(select(length > 0 and (startswith("#") | not)));
def tsv: lines | map(split("\t"));
def kv: lines | map(capture("^(?<key>[^=]+)=(?<value>.*)$")) | from_entries;
def num: if . == "-" or . == null or . == "" then null else tonumber end;
def median: map(select(. != null)) | sort |
	if length == 0 then null
	elif length % 2 == 1 then .[length / 2 | floor]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r3: if . == null then null else (. * 1000 | round) / 1000 end;
def stat: map(select(. != null)) | {median: (median | r3), min: (if length > 0 then min | r3 else null end), n: length};
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else ($a / $b) | r3 end;
def gib: 1073741824;

($config | kv) as $cfg
| ($hostload | lines | map(split(" ") | map(tonumber))) as $hl
| ($wl | lines | map(split(" ") | map(select(length > 0))
	| {name: .[0], rw: .[1], bs: .[2], qd: (.[3] | tonumber), file: .[4],
	   limit: (if .[5] == "-" then null else (.[5] | split(":") | {test: .[0], size: .[1]}) end)})) as $workloads
| ($phases | tsv | group_by([.[0], .[1]])
	| map({rep: (.[0][0] | tonumber), system: .[0][1]} + (map({key: .[2], value: .[3]}) | from_entries))) as $ph
| ($limits | tsv | map({rep: .[0], test: .[1], size: .[2], mbs: (.[3] | num),
	typ: (.[4] | num), avg: (.[5] | num), p99: (.[6] | num)})) as $lim
| ($meas | tsv | map({rep: (.[0] | tonumber), system: .[1], workload: .[2],
	mbs: (.[3] | num), iops: (.[4] | num), lat: (.[5] | num), p99: (.[6] | num),
	bytes: (.[7] | num), errors: (.[8] | num), seconds: (.[9] | num),
	srv: (.[10] | num), kw: (.[11] | num), sirq: (.[12] | num), vm: (.[13] | num),
	r1u: (.[14] | num), r1s: (.[15] | num), r2u: (.[16] | num), r2s: (.[17] | num),
	hu: (.[18] | num), hs: (.[19] | num)})) as $m
| ($lim | group_by([.test, .size]) | map({
	test: .[0].test, size: (.[0].size | tonumber),
	MBps: (map(.mbs) | stat),
	lat_typical_us: (map(.typ) | stat), lat_avg_us: (map(.avg) | stat), lat_p99_us: (map(.p99) | stat)})) as $limit
| def hz: 100;
  # (A negative delta: kernel threads that exited took their time along;
  # older snapshots without per-thread lists cannot tell. Left out.)
  def per_gib($ticks; $bytes): if $ticks == null or $ticks < 0 or $bytes == null or $bytes == 0 then null
	else ($ticks / hz) / ($bytes / gib) end;
  ($m | group_by([.workload, .system]) | map({
	workload: .[0].workload, system: .[0].system,
	MBps: (map(.mbs) | stat), IOPS: (map(.iops) | stat),
	lat_mean_us: (map(.lat) | stat), lat_p99_us: (map(.p99) | stat),
	errors: (map(.errors) | add),
	cpu_server_s_per_GiB: (map(per_gib(.srv; .bytes)) | stat),
	cpu_kworker_s_per_GiB: (map(per_gib(.kw; .bytes)) | stat),
	cpu_ksoftirqd_s_per_GiB: (map(per_gib(.sirq; .bytes)) | stat),
	cpu_vm_s_per_GiB: (map(per_gib(.vm; .bytes)) | stat),
	cpu_smbd_user_s_per_GiB: (map(per_gib(.r1u; .bytes)) | stat),
	cpu_smbd_sys_s_per_GiB: (map(per_gib(.r1s; .bytes)) | stat),
	cpu_smbdirectd_user_s_per_GiB: (map(per_gib(.r2u; .bytes)) | stat),
	cpu_smbdirectd_sys_s_per_GiB: (map(per_gib(.r2s; .bytes)) | stat),
	cpu_helpers_user_s_per_GiB: (map(per_gib(.hu; .bytes)) | stat),
	cpu_helpers_sys_s_per_GiB: (map(per_gib(.hs; .bytes)) | stat)})
	| map(with_entries(select((.value | type) != "object" or .value.n != 0)))) as $res
| def get($w; $s): ($res | map(select(.workload == $w and .system == $s)) | .[0].MBps.median);
  def limit_of($w): ($workloads | map(select(.name == $w)) | .[0].limit) as $l
	| if $l == null then null else ($limit | map(select(.test == $l.test and (.size | tostring) == $l.size)) | .[0]) end;
  ($workloads | map(.name) | map(. as $w | limit_of($w) as $l | {
	workload: $w,
	"ours/ksmbd": ratio(get($w; "ours"); get($w; "ksmbd")),
	"ours/limit": ratio(get($w; "ours"); $l.MBps.median),
	limit: (if $l == null then null else "\($l.test) \($l.size / 1024 | floor) KiB" end),
	limit_MBps: $l.MBps.median,
	"ours/tcp": ratio(get($w; "ours"); get($w; "tcp")),
	"ours/ours-copy": ratio(get($w; "ours"); get($w; "ours-copy")),
	"ours/ours-sendfile": ratio(get($w; "ours"); get($w; "ours-sendfile")),
	"ksmbd/limit": ratio(get($w; "ksmbd"); $l.MBps.median)})
	| map(select(.["ours/ksmbd"] != null or .["ours/limit"] != null or .["ours/tcp"] != null
		or .["ours/ours-copy"] != null or .["ours/ours-sendfile"] != null))) as $ratios
| ($offload | tsv | map(if length == 3 then [.[0], "ours"] + .[1:] else . end)	# before ours-copy: rep key value
	| group_by([.[0], .[1]]) | map({rep: (.[0][0] | tonumber), system: .[0][1]} +
	(map({key: .[2], value: (.[3] as $v | ($v | tonumber? // $v))}) | from_entries))) as $off
# The zero-copy link: ours against ours-copy, which differ only in
# "smbdirect:zero copy = no".  That comparison means something only if ours
# really moved its offloaded payloads by zero copy and ours-copy never did:
# smbdirectd's counters at the end of each run (the data check included)
# say how much of the offloaded bytes went by zero copy.  In this setup
# every offloaded READ and WRITE can be claimed, so ours should be close
# to 1 in both directions; below $zc_min a sizeable part of its payloads
# went the copying way and the comparison says little.
| 0.9 as $zc_min
| def share($z; $o): if $z == null or $o == null or $o == 0 then null else ($z / $o) | r3 end;
  def zc_run($s): . as $c | ($ph | map(select(.rep == $c.rep and .system == $s)) | .[0]) as $p | {
	rep, system,
	zero_copy_link: ($p.zero_copy_link // null),
	offload_read_bytes, offload_write_bytes,
	zero_copy_read_bytes: (.zero_copy_read_bytes // null), zero_copy_write_bytes: (.zero_copy_write_bytes // null),
	zero_copy_share_read: share(.zero_copy_read_bytes; .offload_read_bytes),
	zero_copy_share_write: share(.zero_copy_write_bytes; .offload_write_bytes),
	zero_copy_share: (if .zero_copy_read_bytes == null or .zero_copy_write_bytes == null then null
		else share(.zero_copy_read_bytes + .zero_copy_write_bytes; .offload_read_bytes + .offload_write_bytes) end)};
  # Why a run spoils the comparison ([] if it does not).
  def zc_faults: . as $r | [
	(if $r.zero_copy_share == null then "\($r.system) run \($r.rep): no zero-copy counters (smbdirectd too old, or no offloaded bytes)" else empty end),
	(if $r.system == "ours" then
		((["read", $r.zero_copy_share_read, $r.offload_read_bytes], ["write", $r.zero_copy_share_write, $r.offload_write_bytes])
		| select(.[1] != null and .[1] < $zc_min)
		| "ours run \($r.rep): only \(.[1] * 1000 | floor / 10)% of the offloaded \(.[0]) bytes went by zero copy (want >= \($zc_min * 100 | round)%)"),
		(if $r.offload_read_bytes == 0 or $r.offload_write_bytes == 0 then "ours run \($r.rep): nothing offloaded in one direction" else empty end),
		(if $r.zero_copy_link != null and $r.zero_copy_link != "attached" then "ours run \($r.rep): the connection was not attached to the zero-copy link (\($r.zero_copy_link))" else empty end)
	 else
		(($r.zero_copy_read_bytes // 0) + ($r.zero_copy_write_bytes // 0)) as $z
		| (if $z > 0 then "ours-copy run \($r.rep): \($z) offloaded bytes went by zero copy although it is off" else empty end),
		(if ($r.offload_read_bytes + $r.offload_write_bytes) == 0 then "ours-copy run \($r.rep): nothing offloaded" else empty end)
	 end)];
  ($off | map(select(.system == "ours" or .system == "ours-copy") | zc_run(.system))) as $zcruns
| ([$ph[] | select(.system == "ours")] | length > 0) as $has_ours
| ([$ph[] | select(.system == "ours-copy")] | length > 0) as $has_copy
| ([$ph[] | select(.system == "ours" or .system == "ours-copy") | {rep, system}]
	- [$zcruns[] | {rep, system}]
	| map("\(.system) run \(.rep): no smbdirectd counters at its end")) as $missing
| ($missing + [$zcruns[] | zc_faults[]]) as $zcfaults
| (if ($has_ours and $has_copy) | not then null else ($zcfaults | length == 0) end) as $zcvalid
| def pick($w; $s; $k): ($res | map(select(.workload == $w and .system == $s)) | .[0][$k].median);
  ($workloads | map(.name) | map(. as $w | {
	workload: $w,
	MBps: {ours: pick($w; "ours"; "MBps"), "ours-copy": pick($w; "ours-copy"; "MBps"),
		"ours/ours-copy": ratio(pick($w; "ours"; "MBps"); pick($w; "ours-copy"; "MBps"))},
	IOPS: {ours: pick($w; "ours"; "IOPS"), "ours-copy": pick($w; "ours-copy"; "IOPS"),
		"ours/ours-copy": ratio(pick($w; "ours"; "IOPS"); pick($w; "ours-copy"; "IOPS"))},
	cpu_server_s_per_GiB: {ours: pick($w; "ours"; "cpu_server_s_per_GiB"), "ours-copy": pick($w; "ours-copy"; "cpu_server_s_per_GiB"),
		"ours/ours-copy": ratio(pick($w; "ours"; "cpu_server_s_per_GiB"); pick($w; "ours-copy"; "cpu_server_s_per_GiB"))},
	cpu_vm_s_per_GiB: {ours: pick($w; "ours"; "cpu_vm_s_per_GiB"), "ours-copy": pick($w; "ours-copy"; "cpu_vm_s_per_GiB"),
		"ours/ours-copy": ratio(pick($w; "ours"; "cpu_vm_s_per_GiB"); pick($w; "ours-copy"; "cpu_vm_s_per_GiB"))}})
	| map(select(.MBps.ours != null or .MBps["ours-copy"] != null))) as $zcwl
| {
	valid: $zcvalid,
	verdict: (if $zcvalid == null then "not measured: needs both ours and ours-copy in BENCH_SYSTEMS"
		elif $zcvalid then ([$zcruns[] | select(.system == "ours")] as $o
			| "ours moved \($o | map(.zero_copy_share_read) | min * 1000 | floor / 10)% of its offloaded READ bytes and \($o | map(.zero_copy_share_write) | min * 1000 | floor / 10)% of its offloaded WRITE bytes by zero copy\(if ($o | length) > 1 then " (the lowest of \($o | length) runs)" else "" end), ours-copy none: ours/ours-copy measures the zero-copy link")
		else "the comparison ours/ours-copy is MEANINGLESS in this run: \($zcfaults | join("; "))" end),
	min_share: $zc_min,
	faults: $zcfaults,
	runs: $zcruns,
	# the other systems with the link (not part of the ours/ours-copy verdict)
	other_runs: ($off | map(select(.system == "ours-sendfile" or .system == "ours-threads") | zc_run(.system))),
	by_workload: $zcwl,
	setup: "ours and ours-copy share one smb.conf (share: vfs objects = smbdirect, smbd's I/O defaults: async reads and writes in the module's helpers, no sendfile, no recvfile); ours-copy adds smbdirect:zero copy = no, so its payloads go pool <-> loopback TCP <-> smbd <-> the helpers' own buffers <-> file. ours-sendfile: the share with use sendfile = yes, aio read size = 0, [global] min receivefile size = 4095 (the link through smbd's synchronous sendfile/recvfile)"
  } as $zc
| def rat($w; $k): ($ratios | map(select(.workload == $w)) | .[0][$k]);
  def target($w; $k; $t; $what): rat($w; $k) as $r |
	{target: $what, workload: $w, ratio: $k, value: $r, want: $t,
	 met: (if $r == null then null else $r >= $t end)};
  ([target("seqread-1m-qd4"; "ours/ksmbd"; 0.9; "seq 1 MiB read >= 0.9x ksmbd"),
   target("seqwrite-1m-qd4"; "ours/ksmbd"; 0.9; "seq 1 MiB write >= 0.9x ksmbd"),
   target("seqread-1m-qd4"; "ours/limit"; 0.85; "seq 1 MiB read >= 0.85x ib_write_bw"),
   target("seqwrite-1m-qd4"; "ours/limit"; 0.85; "seq 1 MiB write >= 0.85x ib_read_bw"),
   target("randread-4k-qd1"; "ours/ksmbd"; 0.8; "4 KiB QD1 read IOPS >= 0.8x ksmbd"),
   target("randwrite-4k-qd1"; "ours/ksmbd"; 0.8; "4 KiB QD1 write IOPS >= 0.8x ksmbd")]
  + ([["seqread-1m-qd4", "seq 1 MiB read"], ["seqwrite-1m-qd4", "seq 1 MiB write"]] | map(. as [$w, $n] |
	($zc.by_workload | map(select(.workload == $w)) | .[0].cpu_server_s_per_GiB["ours/ours-copy"]) as $r | {
	target: "zero copy lowers server CPU/GiB vs ours-copy (\($n))", workload: $w,
	ratio: "cpu_server_s_per_GiB ours/ours-copy", value: $r, want: "< 1",
	met: (if $r == null or $zc.valid != true then null else $r < 1 end),
	note: (if $zc.valid == false then "the comparison ours/ours-copy is meaningless in this run" else null end)}))) as $targets
| def host_before($t): ($hl | map(select(.[0] <= $t)) | last // $hl[0]) | if . == null then null else .[1:] end;
  def host_after($t): ($hl | map(select(.[0] >= $t)) | first // ($hl | last)) | if . == null then null else .[1:] end;
  ($ph | map(. + {
	start: (.start | num), end: (.end | num),
	host_load_before: (if .start then host_before(.start | tonumber) else null end),
	host_load_after: (if .end then host_after(.end | tonumber) else null end)})) as $runs
| {
	title: "SMB Direct benchmark: vfs_smbdirect (smbd + smbdirectd), with and without its zero-copy link, against ksmbd, smbd over TCP and the rxe limit",
	date: (($envh | kv).date),
	mode: $cfg.BENCH_MODE,
	config: $cfg,
	environment: (($envh | kv) + ($envg | kv)),
	run: ($run | kv),
	zero_copy: $zc,
	units: {MBps: "10^6 bytes/s", lat: "microseconds, fio total latency (submission to completion)", cpu: "CPU seconds per GiB moved (2^30 bytes)"},
	cpu_notes: {
		ours: "server = all smbd processes (the master, its children and vfs_smbdirect's I/O helpers, cutime included) + smbdirectd; the same for ours-copy",
		tcp: "server = all smbd processes",
		ksmbd: "server = threads named ksmbd* only; its request work runs in kworker threads (the ksmbd-io workqueue), counted under kworker together with cifs.ko's and rxe's work",
		shared: "rxe (Soft-RoCE) does its packet work in whichever context posts or receives (smbdirectd, ksmbd's kworkers, the client) or in ksoftirqd: it is shared, not split per side; vm = all busy CPU of the VM, client and fio included"
	},
	systems: ($runs | group_by(.system) | map({key: .[0].system, value: {label: .[0].label, runs: map(del(.label, .system))}}) | from_entries),
	limit: $limit,
	results: $res,
	ratios: $ratios,
	targets: $targets,
	smbdirectd_counters: $off
}
