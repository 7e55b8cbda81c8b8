# bench/summary.jq: builds summary.json from the tables bench/report
# gathers (all passed with --rawfile):
#   meas      bench/collect's TSV (one line per measured fio job)
#   limits    rep test size MB/s lat_typical lat_avg lat_p99 (perftest)
#   phases    rep system key value (each system's phase.txt)
#   offload   rep key value (smbdirectd's counters at the end of "ours")
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
	r1u: (.[14] | num), r1s: (.[15] | num), r2u: (.[16] | num), r2s: (.[17] | num)})) as $m
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
	cpu_smbdirectd_sys_s_per_GiB: (map(per_gib(.r2s; .bytes)) | stat)})
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
	"ksmbd/limit": ratio(get($w; "ksmbd"); $l.MBps.median)})
	| map(select(.["ours/ksmbd"] != null or .["ours/limit"] != null or .["ours/tcp"] != null))) as $ratios
| def rat($w; $k): ($ratios | map(select(.workload == $w)) | .[0][$k]);
  def target($w; $k; $t; $what): rat($w; $k) as $r |
	{target: $what, workload: $w, ratio: $k, value: $r, want: $t,
	 met: (if $r == null then null else $r >= $t end)};
  [target("seqread-1m-qd4"; "ours/ksmbd"; 0.9; "seq 1 MiB read >= 0.9x ksmbd"),
   target("seqwrite-1m-qd4"; "ours/ksmbd"; 0.9; "seq 1 MiB write >= 0.9x ksmbd"),
   target("seqread-1m-qd4"; "ours/limit"; 0.85; "seq 1 MiB read >= 0.85x ib_write_bw"),
   target("seqwrite-1m-qd4"; "ours/limit"; 0.85; "seq 1 MiB write >= 0.85x ib_read_bw"),
   target("randread-4k-qd1"; "ours/ksmbd"; 0.8; "4 KiB QD1 read IOPS >= 0.8x ksmbd"),
   target("randwrite-4k-qd1"; "ours/ksmbd"; 0.8; "4 KiB QD1 write IOPS >= 0.8x ksmbd")] as $targets
| def host_before($t): ($hl | map(select(.[0] <= $t)) | last // $hl[0]) | if . == null then null else .[1:] end;
  def host_after($t): ($hl | map(select(.[0] >= $t)) | first // ($hl | last)) | if . == null then null else .[1:] end;
  ($ph | map(. + {
	start: (.start | num), end: (.end | num),
	host_load_before: (if .start then host_before(.start | tonumber) else null end),
	host_load_after: (if .end then host_after(.end | tonumber) else null end)})) as $runs
| ($offload | tsv | group_by(.[0]) | map({rep: (.[0][0] | tonumber)} +
	(map({key: .[1], value: (.[2] | tonumber? // .[2])}) | from_entries))) as $off
| {
	title: "SMB Direct benchmark: vfs_smbdirect (smbd + smbdirectd) against ksmbd, smbd over TCP and the rxe limit",
	date: (($envh | kv).date),
	mode: $cfg.BENCH_MODE,
	config: $cfg,
	environment: (($envh | kv) + ($envg | kv)),
	run: ($run | kv),
	zero_copy: "not yet: vfs_smbdirect does smbd's pread/pwrite in its forked helpers, but the link from those helpers to smbdirectd's registered pool is not built, so there is no with/without comparison; smbdirectd copies every payload between its pool and the loopback TCP connection to smbd",
	units: {MBps: "10^6 bytes/s", lat: "microseconds, fio total latency (submission to completion)", cpu: "CPU seconds per GiB moved (2^30 bytes)"},
	cpu_notes: {
		ours: "server = all smbd processes (the master, its children and vfs_smbdirect's I/O helpers, cutime included) + smbdirectd",
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
