/*
 * smbdirectd: which smbd process serves a relayed connection
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "replace.h"
#include "system/dir.h"
#include "lib/util/debug.h"
#include "lib/util/time.h"
#include "smbdirectd_procnet.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

/* Our end of the socketpair to the resolver process, or -1. */
static int resolver_fd = -1;

/* The socket inode of the TCP connection local:smbd_port <- our_port. */
static unsigned long find_inode(const char *table,
				uint16_t our_port,
				uint16_t smbd_port)
{
	FILE *f = fopen(table, "r");
	char line[512];
	unsigned long inode = 0;

	if (f == NULL) {
		return 0;
	}
	/* first line: column titles */
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char local[64];
		char remote[64];
		unsigned lport;
		unsigned rport;
		unsigned long ino;
		char *colon = NULL;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line,
			   " %*s %63s %63s %*s %*s %*s %*s %*s %*s %lu",
			   local, remote, &ino) != 3) {
			continue;
		}
		colon = strrchr(local, ':');
		if (colon == NULL || sscanf(colon + 1, "%x", &lport) != 1) {
			continue;
		}
		colon = strrchr(remote, ':');
		if (colon == NULL || sscanf(colon + 1, "%x", &rport) != 1) {
			continue;
		}
		if (lport == smbd_port && rport == our_port) {
			inode = ino;
			break;
		}
	}
	fclose(f);
	return inode;
}

static bool pid_holds_socket(const char *pid, unsigned long inode)
{
	char dir[64];
	char want[64];
	DIR *d = NULL;
	struct dirent *e = NULL;
	bool found = false;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(dir);
	if (d == NULL) {
		return false;
	}
	while (!found && (e = readdir(d)) != NULL) {
		char path[320];
		char target[64];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0) {
			continue;
		}
		target[n] = '\0';
		found = (strcmp(target, want) == 0);
	}
	closedir(d);
	return found;
}

static pid_t lookup(uint16_t our_port, uint16_t smbd_port)
{
	unsigned long inode;
	DIR *proc = NULL;
	struct dirent *e = NULL;
	pid_t pid = 0;
	pid_t self = getpid();

	inode = find_inode("/proc/net/tcp", our_port, smbd_port);
	if (inode == 0) {
		inode = find_inode("/proc/net/tcp6", our_port, smbd_port);
	}
	if (inode == 0) {
		return 0;
	}
	proc = opendir("/proc");
	if (proc == NULL) {
		return 0;
	}
	while (pid == 0 && (e = readdir(proc)) != NULL) {
		pid_t p;

		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		p = (pid_t)strtol(e->d_name, NULL, 10);
		if (p == self) {
			continue;
		}
		if (pid_holds_socket(e->d_name, inode)) {
			pid = p;
		}
	}
	closedir(proc);
	return pid;
}

/*
 * The resolver: a child that keeps CAP_SYS_PTRACE and nothing else, and
 * answers one question, "which process holds the connection between
 * these two loopback ports?". Reading another process's /proc/PID/fd
 * needs ptrace read access; the kernel grants it to a process without
 * CAP_SYS_PTRACE only if its permitted capabilities include all of the
 * target's, which no longer holds for smbdirectd once it has dropped
 * its own (smbd keeps the full set), nor for an smbd that changed its
 * credentials (serving a non-root user). The resolver reads only 4
 * bytes from its parent, never anything from the network.
 */
struct resolver_req {
	uint16_t our_port;
	uint16_t smbd_port;
};

static void resolver_loop(int fd) __attribute__((noreturn));
static void resolver_loop(int fd)
{
	struct resolver_req req;
	int32_t answer;
	ssize_t n;

	for (;;) {
		n = recv(fd, &req, sizeof(req), 0);
		if (n == 0) {
			_exit(0);
		}
		if (n != (ssize_t)sizeof(req)) {
			if (n == -1 && errno == EINTR) {
				continue;
			}
			_exit(1);
		}
		answer = (int32_t)lookup(req.our_port, req.smbd_port);
		if (send(fd, &answer, sizeof(answer), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(answer)) {
			_exit(1);
		}
	}
}

bool smbdirectd_procnet_resolver_start(bool (*drop_privs)(void))
{
	int sv[2];
	pid_t parent = getpid();
	pid_t child;
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD};
	size_t i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		DBG_ERR("socketpair: %s\n", strerror(errno));
		return false;
	}
	child = fork();
	if (child == -1) {
		DBG_ERR("fork: %s\n", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	if (child != 0) {
		close(sv[1]);
		resolver_fd = sv[0];
		DBG_NOTICE("smbd pid resolver started, pid %d\n", (int)child);
		return true;
	}

	/* the child: the parent's signal handlers are not ours */
	close(sv[0]);
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		signal(sigs[i], SIG_DFL);
	}
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
		_exit(1);
	}
	prctl(PR_SET_NAME, "smbdirectd-pid");
	if (!drop_privs()) {
		_exit(1);
	}
	resolver_loop(sv[1]);
}

pid_t smbdirectd_procnet_smbd_pid(uint16_t our_port, uint16_t smbd_port)
{
	struct resolver_req req = {
		.our_port = our_port,
		.smbd_port = smbd_port,
	};
	struct pollfd pfd = {
		.fd = resolver_fd,
		.events = POLLIN,
	};
	struct timeval deadline = timeval_current_ofs(5, 0);
	int32_t answer = 0;
	int ret;

	if (resolver_fd == -1) {
		return lookup(our_port, smbd_port);
	}
	if (send(resolver_fd, &req, sizeof(req), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req)) {
		goto broken;
	}
	/*
	 * A scan of /proc: milliseconds; 5 s means it is stuck. A signal
	 * (SIGHUP, SIGUSR1) interrupts poll() whatever SA_RESTART says:
	 * wait on, or the resolver would be given up for good.
	 */
	do {
		struct timeval now = timeval_current();
		int64_t left_ms = usec_time_diff(&deadline, &now) / 1000;

		ret = poll(&pfd, 1, left_ms > 0 ? (int)left_ms : 0);
	} while (ret == -1 && errno == EINTR);
	if (ret != 1 || recv(resolver_fd, &answer, sizeof(answer), 0) !=
				(ssize_t)sizeof(answer)) {
		goto broken;
	}
	return (pid_t)answer;

broken:
	DBG_ERR("the smbd pid resolver does not answer (%s): smbd pids "
		"are looked up directly from now on, which needs the "
		"capabilities smbdirectd has dropped\n",
		strerror(errno));
	close(resolver_fd);
	resolver_fd = -1;
	return lookup(our_port, smbd_port);
}
