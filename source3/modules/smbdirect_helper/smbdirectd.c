/*
 * smbdirectd: the SMB Direct (SMB over RDMA) listener for Samba
 *
 * smbdirectd is the only process that talks RDMA. It accepts SMB Direct
 * connections and hands each one to the distribution's unmodified smbd
 * over loopback TCP. This file holds the daemon's life cycle: command
 * line, smb.conf, logging, pid file and signals.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * This program is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 * GNU General Public License for more details.
 *
 * You should have received a copy of the GNU General Public License
 * along with this program.  If not, see <http://www.gnu.org/licenses/>.
 */

#include "includes.h"
#include "lib/cmdline/cmdline.h"
#include "lib/util/pidfile.h"
#include "lib/util/become_daemon.h"
#include "source3/lib/substitute.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn.h"
#include "smbdirectd_devices.h"
#include "smbdirectd_listen.h"
#include "smbdirectd_zerocopy.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_privs.h"
#include "smbdirectd_status.h"

#define SMBDIRECTD_NAME "smbdirectd"

enum smbdirectd_popt {
	OPT_LIST_DEVICES = 1000,
	OPT_STATUS,
	OPT_JSON,
};

/* How long SIGTERM waits for peers to acknowledge the disconnect. */
#define SMBDIRECTD_SHUTDOWN_GRACE_SEC 5

struct smbdirectd_state {
	struct tevent_context *ev;
	struct smbdirectd_ctx *ctx;
	bool status_started;
	bool stop;
	int exit_code;
};

static void smbdirectd_sigterm(struct tevent_context *ev,
			       struct tevent_signal *se,
			       int signum,
			       int count,
			       void *siginfo,
			       void *private_data)
{
	struct smbdirectd_state *state = talloc_get_type_abort(
		private_data, struct smbdirectd_state);

	DBG_ERR("got signal %d, shutting down\n", signum);
	state->stop = true;
}

static void smbdirectd_sighup(struct tevent_context *ev,
			      struct tevent_signal *se,
			      int signum,
			      int count,
			      void *siginfo,
			      void *private_data)
{
	DBG_NOTICE("SIGHUP: reloading %s\n", get_dyn_CONFIGFILE());
	if (!lp_load_global(get_dyn_CONFIGFILE())) {
		DBG_ERR("reloading %s failed, keeping the old settings\n",
			get_dyn_CONFIGFILE());
		return;
	}
	reopen_logs();
	/*
	 * hosts allow/deny and the log settings apply to the next
	 * connection at once; listen addresses, ports and sizes are read at
	 * start-up only.
	 */
	DBG_WARNING("reloaded %s; listen addresses and smbdirect: sizes "
		    "change only with a restart\n",
		    get_dyn_CONFIGFILE());
}

/*
 * SIGUSR1: write the status file now rather than at the next second, for
 * whoever needs the counters of what just happened (the test suite reads
 * them after every transfer it checks).
 */
static void smbdirectd_sigusr1(struct tevent_context *ev,
			       struct tevent_signal *se,
			       int signum,
			       int count,
			       void *siginfo,
			       void *private_data)
{
	struct smbdirectd_state *state = talloc_get_type_abort(
		private_data, struct smbdirectd_state);

	/* registered early, so that it never kills us: nothing to do yet */
	if (!state->status_started) {
		return;
	}
	smbdirectd_status_write(state->ctx);
}

static bool smbdirectd_setup_signals(struct smbdirectd_state *state)
{
	struct tevent_signal *se = NULL;
	int sigs[] = {SIGTERM, SIGINT};
	size_t i;

	/*
	 * Writing to an smbd that died (killed, crashed) must fail that
	 * connection with EPIPE, not kill the daemon and every other
	 * connection with it: as smbd, never take SIGPIPE.
	 */
	BlockSignals(true, SIGPIPE);

	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		se = tevent_add_signal(state->ev,
				       state,
				       sigs[i],
				       0,
				       smbdirectd_sigterm,
				       state);
		if (se == NULL) {
			return false;
		}
	}

	/*
	 * Reload and status requests come at any time: SA_RESTART, so that
	 * they do not fail a blocking system call with EINTR on the way.
	 */
	se = tevent_add_signal(state->ev,
			       state,
			       SIGHUP,
			       SA_RESTART,
			       smbdirectd_sighup,
			       state);
	if (se == NULL) {
		return false;
	}
	se = tevent_add_signal(state->ev,
			       state,
			       SIGUSR1,
			       SA_RESTART,
			       smbdirectd_sigusr1,
			       state);
	return se != NULL;
}

/*
 * Stop listening, disconnect every peer and give them a moment to
 * acknowledge, then release whatever is left: nothing stays registered.
 */
static void smbdirectd_grace_over(struct tevent_context *ev,
				  struct tevent_timer *te,
				  struct timeval now,
				  void *private_data)
{
	bool *over = (bool *)private_data;

	*over = true;
}

static void smbdirectd_shutdown(struct smbdirectd_state *state)
{
	struct smbdirectd_ctx *ctx = state->ctx;
	struct tevent_timer *te = NULL;
	bool over = false;

	if (ctx == NULL) {
		return;
	}
	smbdirectd_listen_stop(ctx);
	smbdirectd_zc_stop(ctx);
	smbdirectd_conn_shutdown_all(ctx, "smbdirectd is stopping");
	te = tevent_add_timer(state->ev,
			      ctx,
			      timeval_current_ofs(SMBDIRECTD_SHUTDOWN_GRACE_SEC,
						  0),
			      smbdirectd_grace_over,
			      &over);
	while (ctx->num_conns > 0 && !over && te != NULL) {
		if (tevent_loop_once(state->ev) != 0) {
			break;
		}
	}
	TALLOC_FREE(te);
	smbdirectd_conn_free_all(ctx);
	smbdirectd_dev_free_all(ctx);
	smbdirectd_status_write(ctx);
	DBG_ERR("connections: %" PRIu64 " accepted, %" PRIu64 " refused; "
		"to smbd %" PRIu64 " PDUs / %" PRIu64 " bytes, to clients "
		"%" PRIu64 " PDUs / %" PRIu64 " bytes, errors %" PRIu64 "; "
		"offloaded WRITE %" PRIu64 " ops / %" PRIu64 " bytes, READ "
		"%" PRIu64 " ops / %" PRIu64 " bytes, offload failures "
		"%" PRIu64 "; zero copy WRITE %" PRIu64 " / READ %" PRIu64
		" bytes\n",
		ctx->accepted,
		ctx->refused,
		ctx->totals.pdus_to_smbd,
		ctx->totals.bytes_to_smbd,
		ctx->totals.pdus_to_client,
		ctx->totals.bytes_to_client,
		ctx->totals.errors,
		ctx->totals.offload_write_ops,
		ctx->totals.offload_write_bytes,
		ctx->totals.offload_read_ops,
		ctx->totals.offload_read_bytes,
		ctx->totals.offload_failures,
		ctx->totals.zero_copy_write_bytes,
		ctx->totals.zero_copy_read_bytes);
	TALLOC_FREE(ctx->listener);
}

/*
 * --list-devices: what an administrator checks first. Everything goes to
 * stdout: for a server, Samba's logging setup points stderr at the log
 * file.
 */
static int smbdirectd_print_devices(TALLOC_CTX *mem_ctx)
{
	struct smbdirectd_device_info *devs = NULL;
	int num;
	int i;
	unsigned p;

	num = smbdirectd_devices_probe(mem_ctx, &devs);
	if (num < 0 && errno == ENOSYS) {
		printf("No RDMA devices: the kernel has no RDMA support "
		       "(load the NIC's RDMA driver, or rdma_rxe/siw and "
		       "ib_uverbs for software RDMA).\n");
		return 2;
	}
	if (num < 0) {
		printf("Listing RDMA devices failed: %s\n"
		       "Is rdma-core (libibverbs) installed and a provider "
		       "package (ibverbs-providers) present?\n",
		       strerror(errno));
		return 1;
	}
	if (num == 0) {
		printf("No RDMA devices found.\n");
		return 2;
	}
	for (i = 0; i < num; i++) {
		printf("%s: transport %s, node GUID %016" PRIx64 "\n",
		       devs[i].name,
		       devs[i].transport,
		       devs[i].node_guid);
		for (p = 0; p < devs[i].num_ports; p++) {
			printf("  port %u: %s, link layer %s, active MTU %u\n",
			       devs[i].ports[p].port_num,
			       devs[i].ports[p].state,
			       devs[i].ports[p].link_layer,
			       devs[i].ports[p].active_mtu);
		}
	}
	return 0;
}

static void smbdirectd_log_devices(TALLOC_CTX *mem_ctx)
{
	struct smbdirectd_device_info *devs = NULL;
	int num;
	int i;

	num = smbdirectd_devices_probe(mem_ctx, &devs);
	if (num < 0) {
		DBG_ERR("listing RDMA devices failed: %s\n", strerror(errno));
		return;
	}
	DBG_ERR("found %d RDMA device(s)\n", num);
	for (i = 0; i < num; i++) {
		DBG_ERR("RDMA device %s (%s), port 1 %s\n",
			devs[i].name,
			devs[i].transport,
			devs[i].num_ports > 0 ? devs[i].ports[0].state
					      : "absent");
	}
	smbdirectd_devices_log(devs, num);
	TALLOC_FREE(devs);
}

int main(int argc, const char *argv[])
{
	struct samba_cmdline_daemon_cfg *daemon_cfg = NULL;
	struct smbdirectd_state *state = NULL;
	const struct loadparm_substitution *lp_sub =
		loadparm_s3_global_substitution();
	bool list_devices = false;
	bool show_status = false;
	bool json = false;
	bool log_stdout;
	poptContext pc;
	TALLOC_CTX *frame;
	char *logfile = NULL;
	int exit_code;
	int opt;
	bool ok;
	struct poptOption long_options[] = {
		POPT_AUTOHELP
		{
			.longName = "list-devices",
			.argInfo = POPT_ARG_NONE,
			.val = OPT_LIST_DEVICES,
			.descrip = "Print the RDMA devices found and exit",
		},
		{
			.longName = "status",
			.argInfo = POPT_ARG_NONE,
			.val = OPT_STATUS,
			.descrip = "Show the running smbdirectd's connections "
				   "and counters, then exit",
		},
		{
			.longName = "json",
			.argInfo = POPT_ARG_NONE,
			.val = OPT_JSON,
			.descrip = "With --status: print JSON",
		},
		POPT_COMMON_SAMBA
		POPT_COMMON_DAEMON
		POPT_COMMON_VERSION
		POPT_TABLEEND
	};

	talloc_enable_null_tracking();
	frame = talloc_stackframe();
	smb_init_locale();

	ok = samba_cmdline_init(frame,
				SAMBA_CMDLINE_CONFIG_SERVER,
				true /* require_smbconf */);
	if (!ok) {
		fprintf(stderr, "Failed to initialise the command line\n");
		TALLOC_FREE(frame);
		return 1;
	}
	daemon_cfg = samba_cmdline_get_daemon_cfg();

	pc = samba_popt_get_context(getprogname(), argc, argv, long_options, 0);
	if (pc == NULL) {
		fprintf(stderr, "Failed to set up the option parser\n");
		TALLOC_FREE(frame);
		return 1;
	}
	poptSetOtherOptionHelp(pc, "[OPTIONS]\n\n"
			       "SMB Direct (SMB3 over RDMA) listener: accepts "
			       "RDMA connections\nand relays them to the local "
			       "smbd. Reads smb.conf like smbd does.");
	while ((opt = poptGetNextOpt(pc)) != -1) {
		if (opt == OPT_LIST_DEVICES) {
			list_devices = true;
			continue;
		}
		if (opt == OPT_STATUS) {
			show_status = true;
			continue;
		}
		if (opt == OPT_JSON) {
			json = true;
			continue;
		}
		fprintf(stderr, "\nInvalid option %s: %s\n\n",
			poptBadOption(pc, 0), poptStrerror(opt));
		poptPrintUsage(pc, stderr, 0);
		TALLOC_FREE(frame);
		return 1;
	}
	poptFreeContext(pc);

	if (show_status) {
		int ret = smbdirectd_status_print(json);
		TALLOC_FREE(frame);
		return ret;
	}
	if (list_devices) {
		int ret = smbdirectd_print_devices(frame);
		TALLOC_FREE(frame);
		return ret;
	}

	/* "log file = .../log.%m" names our log log.smbdirectd, as smbd's */
	set_remote_machine_name(SMBDIRECTD_NAME, false);

	if (is_default_dyn_LOGFILEBASE()) {
		if (asprintf(&logfile,
			     "%s/log." SMBDIRECTD_NAME,
			     get_dyn_LOGFILEBASE()) < 0) {
			TALLOC_FREE(frame);
			return 1;
		}
		lp_set_logfile(logfile);
		SAFE_FREE(logfile);
		/*
		 * As smbd does: load smb.conf again so that its "log file"
		 * wins over the default name set just above.
		 */
		if (!lp_load_global(get_dyn_CONFIGFILE())) {
			fprintf(stderr, "Cannot load %s\n",
				get_dyn_CONFIGFILE());
			TALLOC_FREE(frame);
			return 1;
		}
	}
	dump_core_setup(SMBDIRECTD_NAME, lp_logfile(frame, lp_sub));

	/*
	 * Like nmbd and smbd: without -D, -F or -i, and with stdin not a
	 * socket (not started by inetd), become a daemon - the "(default)"
	 * of --help.
	 */
	if (!daemon_cfg->daemon && !daemon_cfg->interactive &&
	    !is_a_socket(0)) {
		daemon_cfg->daemon = true;
	}

	log_stdout = (debug_get_log_type() == DEBUG_STDOUT);
	if (daemon_cfg->interactive) {
		log_stdout = true;
	}
	if (log_stdout && daemon_cfg->fork) {
		fprintf(stderr,
			"Logging to stdout needs --foreground or "
			"--interactive\n");
		TALLOC_FREE(frame);
		return 1;
	}
	reopen_logs();

	DBG_ERR(SMBDIRECTD_NAME " version %s started (config %s)\n",
		samba_version_string(),
		get_dyn_CONFIGFILE());

	if (daemon_cfg->daemon && !daemon_cfg->interactive) {
		become_daemon(daemon_cfg->fork,
			      daemon_cfg->no_process_group,
			      log_stdout);
	}

	ok = directory_create_or_exist(lp_pid_directory(), 0755);
	if (!ok) {
		exit_daemon("Failed to create the pid directory, check "
			    "'pid directory' in smb.conf",
			    errno);
	}

	state = talloc_zero(frame, struct smbdirectd_state);
	if (state == NULL) {
		exit_daemon("out of memory", ENOMEM);
	}
	state->ev = samba_tevent_context_init(state);
	if (state->ev == NULL) {
		exit_daemon("tevent_context_init failed", ENOMEM);
	}
	if (!smbdirectd_setup_signals(state)) {
		exit_daemon("setting up signal handlers failed", ENOMEM);
	}

	smbdirectd_log_devices(state);

	state->ctx = talloc_zero(state, struct smbdirectd_ctx);
	if (state->ctx == NULL) {
		exit_daemon("out of memory", ENOMEM);
	}
	state->ctx->ev = state->ev;
	state->ctx->cfg = smbdirectd_config_load(state->ctx);
	if (state->ctx->cfg == NULL) {
		exit_daemon("invalid smbdirect settings in smb.conf (see the "
			    "log)",
			    EINVAL);
	}
	smbdirectd_config_log(state->ctx->cfg);
	state->ctx->pool = smbdirectd_pool_create(state->ctx,
						  state->ctx->cfg->pool_size);
	if (state->ctx->pool == NULL) {
		exit_daemon("creating the offload pool (memfd) failed", errno);
	}
	if (!smbdirectd_privs_drop(
		    smbdirectd_listen_needs_low_port(state->ctx->cfg))) {
		exit_daemon("dropping capabilities failed", EPERM);
	}
	if (!smbdirectd_listen_start(state->ctx)) {
		exit_daemon("could not listen on any RDMA address (see the "
			    "log)",
			    EADDRNOTAVAIL);
	}

	/* Only a daemon that listens claims the pid file. */
	pidfile_create(lp_pid_directory(), SMBDIRECTD_NAME);
	/* After the pid file: a second daemon must not take the socket. */
	if (!smbdirectd_zc_listen(state->ctx)) {
		DBG_ERR("running without the zero-copy link: payloads are "
			"copied through smbd\n");
	}
	if (!smbdirectd_status_start(state->ctx)) {
		exit_daemon("setting up the status file failed", ENOMEM);
	}
	state->status_started = true;
	if (daemon_cfg->daemon) {
		daemon_ready(SMBDIRECTD_NAME);
	}

	while (!state->stop) {
		if (tevent_loop_once(state->ev) != 0) {
			DBG_ERR("event loop failed: %s\n", strerror(errno));
			state->exit_code = 1;
			break;
		}
		if (state->ctx->nothing_to_listen_on) {
			state->exit_code = 1;
			break;
		}
	}

	smbdirectd_shutdown(state);
	DBG_ERR(SMBDIRECTD_NAME " stopped\n");
	pidfile_unlink(lp_pid_directory(), SMBDIRECTD_NAME);
	exit_code = state->exit_code;
	TALLOC_FREE(frame);
	return exit_code;
}
