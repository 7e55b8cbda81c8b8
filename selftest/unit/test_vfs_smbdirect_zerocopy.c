/*
 * Unit tests for vfs_smbdirect_zerocopy.c, the module's end of the
 * zero-copy link, against a stand-in for smbdirectd: a control socket
 * served by a forked child, a memfd pool and table, and a real loopback
 * TCP connection in place of smbd's transport.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <talloc.h>
#include <unistd.h>

#include "proto/smbdirect_zerocopy.h"
#include "vfs_smbdirect_zerocopy.h"
#include "vfs_smbdirect_helpers.h"
#include <tevent.h>

#define POOL_SIZE (4u << 20)

struct fixture {
	char dir[64];
	char sock_path[96];
	int pool_fd;
	uint8_t *pool;
	int table_fd;
	struct smbdirect_zc_table *table;
	int server_fd;	/* smbd's transport socket */
	int client_fd;	/* smbdirectd's end of it */
	uint16_t client_port;
	int file_fd;
	struct smbdirect_zc_link *link;
};

/* A TCP connection over 127.0.0.1, like smbdirectd's to smbd. */
static void tcp_pair(struct fixture *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	f->client_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(f->client_fd, (struct sockaddr *)&a,
				 sizeof(a)), 0);
	f->server_fd = accept(l, NULL, NULL);
	assert_true(f->server_fd >= 0);
	close(l);
	len = sizeof(a);
	assert_int_equal(getsockname(f->client_fd, (struct sockaddr *)&a,
				     &len), 0);
	f->client_port = ntohs(a.sin_port);
	/* smbd keeps its socket non-blocking */
	fcntl(f->server_fd, F_SETFL, O_NONBLOCK);
}

/* One attach request answered as smbdirectd would, in a child. */
static pid_t serve_attach(struct fixture *f, int status)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	pid_t pid;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->sock_path);
	unlink(f->sock_path);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct smbdirect_zc_attach_req req;
		struct smbdirect_zc_attach_rsp rsp = {
			.magic = SMBDIRECT_ZC_MAGIC,
			.version = SMBDIRECT_ZC_VERSION,
			.status = status,
			.pool_size = POOL_SIZE,
			.table_size = sizeof(struct smbdirect_zc_table),
		};
		struct iovec iov = {.iov_base = &rsp, .iov_len = sizeof(rsp)};
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(2 * sizeof(int))];
		} u;
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		int fds[2] = {f->pool_fd, f->table_fd};
		struct iovec riov = {.iov_base = &req,
				     .iov_len = sizeof(req)};
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ru;
		struct msghdr rmsg = {
			.msg_iov = &riov,
			.msg_iovlen = 1,
			.msg_control = ru.buf,
			.msg_controllen = sizeof(ru.buf),
		};
		struct cmsghdr *rcm = NULL;
		int c = accept(l, NULL, NULL);

		if (c < 0 || recvmsg(c, &rmsg, 0) != sizeof(req)) {
			_exit(2);
		}
		/* the request carries the guard's read end */
		rcm = CMSG_FIRSTHDR(&rmsg);
		if (rcm == NULL || rcm->cmsg_type != SCM_RIGHTS ||
		    rcm->cmsg_len != CMSG_LEN(sizeof(int))) {
			_exit(4);
		}
		if (req.magic != SMBDIRECT_ZC_MAGIC ||
		    req.smbdirectd_port != f->client_port) {
			rsp.status = ENOENT;
		}
		if (rsp.status == 0) {
			struct cmsghdr *cm = NULL;

			memset(&u, 0, sizeof(u));
			msg.msg_control = u.buf;
			msg.msg_controllen = sizeof(u.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(fds));
			memcpy(CMSG_DATA(cm), fds, sizeof(fds));
		}
		_exit(sendmsg(c, &msg, 0) == sizeof(rsp) ? 0 : 3);
	}
	close(l);
	return pid;
}

static void wait_ok(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *what = NULL;
	pid_t pid;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/zc-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock_path, sizeof(f->sock_path), "%s/zc.sock", f->dir);

	f->pool_fd = memfd_create("pool", 0);
	assert_int_equal(ftruncate(f->pool_fd, POOL_SIZE), 0);
	f->pool = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       f->pool_fd, 0);
	assert_true(f->pool != MAP_FAILED);
	f->table_fd = memfd_create("table", 0);
	assert_int_equal(ftruncate(f->table_fd, sizeof(*f->table)), 0);
	f->table = mmap(NULL, sizeof(*f->table), PROT_READ | PROT_WRITE,
			MAP_SHARED, f->table_fd, 0);
	assert_true(f->table != MAP_FAILED);
	smbdirect_zc_table_init(f->table, POOL_SIZE);

	tcp_pair(f);
	f->file_fd = open(f->dir, O_TMPFILE | O_RDWR, 0600);
	assert_true(f->file_fd >= 0);

	pid = serve_attach(f, 0);
	f->link = smbdirect_zc_attach(NULL, f->sock_path, f->server_fd, &what);
	if (f->link == NULL) {
		print_error("attach: %s\n", strerror(errno));
	}
	wait_ok(pid);
	assert_non_null(f->link);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	TALLOC_FREE(f->link);
	munmap(f->pool, POOL_SIZE);
	munmap(f->table, sizeof(*f->table));
	close(f->pool_fd);
	close(f->table_fd);
	close(f->server_fd);
	close(f->client_fd);
	close(f->file_fd);
	unlink(f->sock_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_attach_refused(void **state)
{
	struct fixture *f = *state;
	struct smbdirect_zc_link *l = NULL;
	const char *what = NULL;
	pid_t pid;
	int fds[2];

	/* smbdirectd knows no such connection */
	pid = serve_attach(f, ENOENT);
	l = smbdirect_zc_attach(NULL, f->sock_path, f->server_fd, &what);
	assert_null(l);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(what, "smbdirectd's answer");
	wait_ok(pid);

	/* nobody listening */
	unlink(f->sock_path);
	l = smbdirect_zc_attach(NULL, f->sock_path, f->server_fd, &what);
	assert_null(l);
	assert_string_equal(what, "connect");

	/* not a loopback TCP connection: never asks */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	l = smbdirect_zc_attach(NULL, f->sock_path, fds[0], &what);
	assert_null(l);
	assert_int_equal(errno, EAFNOSUPPORT);
	assert_string_equal(what, "not a loopback TCP connection");
	close(fds[0]);
	close(fds[1]);
}

/* A READ response header as smbd hands it to SMB_VFS_SENDFILE. */
static void read_hdr(uint8_t hdr[84], uint64_t mid, uint32_t len)
{
	memset(hdr, 0, 84);
	hdr[1] = (uint8_t)((80 + len) >> 16);
	hdr[2] = (uint8_t)((80 + len) >> 8);
	hdr[3] = (uint8_t)(80 + len);
	memcpy(hdr + 4, "\xfeSMB", 4);
	memcpy(hdr + 4 + 24, &mid, 8); /* little-endian host assumed */
}

static void test_sendfile_claims(void **state)
{
	struct fixture *f = *state;
	struct smbdirect_zc_entry e = {
		.op = SMBDIRECT_ZC_OP_READ,
		.message_id = 42,
		.file_id_persistent = 1,
		.file_id_volatile = 2,
		.offset = 4096,
		.pool_offset = 1 << 20,
		.length = 65536,
	};
	struct smbdirect_zc_io io = {
		.file_id_persistent = 1,
		.file_id_volatile = 2,
		.file_fd = f->file_fd,
		.offset = 4096,
		.count = 65536,
	};
	uint8_t *data = malloc(4096 + 65536);
	uint8_t hdr[84], got[84];
	bool claimed = false;
	ssize_t n;
	size_t i;
	int idx;

	for (i = 0; i < 4096 + 65536; i++) {
		data[i] = (uint8_t)(i * 7 + 3);
	}
	assert_int_equal(pwrite(f->file_fd, data, 4096 + 65536, 0),
			 4096 + 65536);
	idx = smbdirect_zc_publish(f->table, &e);

	/* another MessageId: not ours, nothing sent */
	read_hdr(hdr, 41, 65536);
	n = smbdirect_zc_sendfile(f->link, f->server_fd, hdr, sizeof(hdr), &io,
				  &claimed);
	assert_false(claimed);
	assert_int_equal(n, 0);
	assert_int_equal(recv(f->client_fd, got, 1, MSG_DONTWAIT), -1);

	read_hdr(hdr, 42, 65536);
	n = smbdirect_zc_sendfile(f->link, f->server_fd, hdr, sizeof(hdr), &io,
				  &claimed);
	assert_true(claimed);
	assert_int_equal(n, 65536);
	assert_int_equal(smbdirect_zc_state(f->table, idx), SMBDIRECT_ZC_DONE);
	assert_int_equal(f->table->entries[idx].result, 65536);
	/* the file's bytes are in the slot, only the header on the socket */
	assert_memory_equal(f->pool + (1 << 20), data + 4096, 65536);
	assert_int_equal(recv(f->client_fd, got, sizeof(got), MSG_WAITALL),
			 sizeof(got));
	assert_memory_equal(got, hdr, sizeof(hdr));
	assert_int_equal(recv(f->client_fd, got, 1, MSG_DONTWAIT), -1);
	free(data);
}

/* The file shrank after smbd looked: zeros, as smbd itself pads. */
static void test_sendfile_short_file(void **state)
{
	struct fixture *f = *state;
	struct smbdirect_zc_entry e = {
		.op = SMBDIRECT_ZC_OP_READ,
		.message_id = 5,
		.length = 8192,
	};
	struct smbdirect_zc_io io = {
		.file_fd = f->file_fd,
		.count = 8192,
	};
	uint8_t hdr[84], got[84];
	bool claimed = false;

	memset(f->pool, 0xaa, 8192);
	assert_int_equal(pwrite(f->file_fd, "abc", 3, 0), 3);
	smbdirect_zc_publish(f->table, &e);
	read_hdr(hdr, 5, 8192);
	assert_int_equal(smbdirect_zc_sendfile(f->link, f->server_fd, hdr,
					       sizeof(hdr), &io, &claimed),
			 8192);
	assert_true(claimed);
	assert_memory_equal(f->pool, "abc", 3);
	assert_int_equal(f->pool[3], 0);
	assert_int_equal(f->pool[8191], 0);
	assert_int_equal(recv(f->client_fd, got, sizeof(got), MSG_WAITALL),
			 sizeof(got));
}

static void test_recvfile_claims(void **state)
{
	struct fixture *f = *state;
	const size_t len = 300000; /* more than a socket buffer holds */
	struct smbdirect_zc_entry e = {
		.op = SMBDIRECT_ZC_OP_WRITE,
		.message_id = 9,
		.file_id_persistent = 3,
		.file_id_volatile = 4,
		.offset = 100,
		.pool_offset = 2 << 20,
		.length = len,
	};
	struct smbdirect_zc_io io = {
		.file_id_persistent = 3,
		.file_id_volatile = 4,
		.file_fd = f->file_fd,
		.offset = 100,
		.count = len,
	};
	uint8_t *back = malloc(len);
	bool claimed = false;
	ssize_t n;
	pid_t pid;
	size_t i;
	int idx;

	for (i = 0; i < len; i++) {
		f->pool[(2 << 20) + i] = (uint8_t)(i * 13 + 1);
	}
	idx = smbdirect_zc_publish(f->table, &e);

	/* another range: not ours, nothing consumed */
	io.offset = 0;
	n = smbdirect_zc_recvfile(f->link, f->server_fd, &io, &claimed);
	assert_false(claimed);
	assert_int_equal(n, 0);
	io.offset = 100;

	/* smbdirectd sends the payload (from the slot) and a marker */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t done = 0;

		while (done < len) {
			ssize_t w = send(f->client_fd,
					 f->pool + (2 << 20) + done,
					 len - done, 0);
			if (w <= 0) {
				_exit(1);
			}
			done += w;
		}
		_exit(send(f->client_fd, "NEXT", 4, 0) == 4 ? 0 : 1);
	}
	n = smbdirect_zc_recvfile(f->link, f->server_fd, &io, &claimed);
	assert_true(claimed);
	assert_int_equal(n, len);
	wait_ok(pid);
	assert_int_equal(smbdirect_zc_state(f->table, idx), SMBDIRECT_ZC_DONE);
	assert_int_equal(pread(f->file_fd, back, len, 100), len);
	assert_memory_equal(back, f->pool + (2 << 20), len);
	/* exactly the payload was consumed: the next PDU is intact */
	{
		char next[4] = {0};

		fcntl(f->server_fd, F_SETFL, 0);
		assert_int_equal(recv(f->server_fd, next, 4, MSG_WAITALL), 4);
		assert_memory_equal(next, "NEXT", 4);
	}
	free(back);
}

/* One helper request to completion: its result and errno. */
static ssize_t run_io(struct smbdirect_io_pool *pool,
		      struct tevent_context *ev,
		      const struct smbdirect_io_args *args,
		      int *perr)
{
	struct tevent_req *req = smbdirect_io_send(pool, ev, pool, args);
	uint64_t duration = 0;
	ssize_t ret;

	assert_non_null(req);
	assert_true(tevent_req_poll(req, ev));
	ret = smbdirect_io_recv(req, perr, &duration);
	talloc_free(req);
	return ret;
}

/*
 * smbd's asynchronous READ and WRITE: claimed by MessageId and key, the
 * helper reads into / writes from the slot of the pool the link mapped,
 * smbd's buffer stays as it was, and the entry says how it went.
 */
static void test_async_claims(void **state)
{
	struct fixture *f = *state;
	struct smbdirect_zc_entry r = {
		.op = SMBDIRECT_ZC_OP_READ,
		.message_id = 41,
		.file_id_persistent = 5,
		.file_id_volatile = 6,
		.offset = 0,
		.pool_offset = 1 << 20,
		.length = 65536,
	};
	struct smbdirect_zc_entry w = r;
	struct smbdirect_zc_io io = {
		.file_id_persistent = 5,
		.file_id_volatile = 6,
		.file_fd = f->file_fd,
		.offset = 0,
		.count = 65536,
	};
	struct smbdirect_io_pool_config cfg = {.max_helpers = 2};
	struct tevent_context *ev = tevent_context_init(NULL);
	struct smbdirect_io_pool *pool = NULL;
	struct smbdirect_io_args args = {0};
	uint8_t data[65536], smbd_buf[65536], back[8192];
	uint64_t pool_offset = 0;
	uint32_t id = 0;
	int idx, err = 0;
	size_t i;

	assert_non_null(ev);
	for (i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 3);
	}
	assert_int_equal(pwrite(f->file_fd, data, 40000, 0), 40000);
	pool = smbdirect_io_pool_create(ev, ev, &cfg);
	assert_non_null(pool);
	assert_int_equal(smbdirect_io_pool_add_guarded_buffer(
				 pool, smbdirect_zc_pool_fd(f->link),
				 smbdirect_zc_pool_size(f->link),
				 smbdirect_zc_guard_fd(f->link), &id), 0);

	/* READ: not this MessageId, not this FileId: not ours */
	idx = smbdirect_zc_publish(f->table, &r);
	assert_true(idx >= 0);
	assert_int_equal(smbdirect_zc_async_claim(f->link, SMBDIRECT_ZC_OP_READ,
						  40, &io, &pool_offset), -1);
	io.file_id_volatile = 7;
	assert_int_equal(smbdirect_zc_async_claim(f->link, SMBDIRECT_ZC_OP_READ,
						  41, &io, &pool_offset), -1);
	io.file_id_volatile = 6;
	assert_int_equal(smbdirect_zc_async_claim(f->link,
						  SMBDIRECT_ZC_OP_WRITE, 41,
						  &io, &pool_offset), -1);
	assert_int_equal(smbdirect_zc_async_claim(f->link, SMBDIRECT_ZC_OP_READ,
						  41, &io, &pool_offset), idx);
	assert_int_equal(pool_offset, 1 << 20);
	assert_int_equal(smbdirect_zc_state(f->table, idx),
			 SMBDIRECT_ZC_CLAIMED);

	/* past the end of the file: a short READ, into the slot only */
	memset(smbd_buf, 0xaa, sizeof(smbd_buf));
	memset(f->pool + pool_offset, 0, 65536);
	args = (struct smbdirect_io_args) {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->file_fd,
		.data = smbd_buf,
		.n = 65536,
		.offset = 0,
		.ext_id = id,
		.ext_offset = pool_offset,
	};
	assert_int_equal(run_io(pool, ev, &args, &err), 40000);
	smbdirect_zc_async_done(f->link, idx, 40000);
	assert_int_equal(smbdirect_zc_state(f->table, idx),
			 SMBDIRECT_ZC_DONE_RELAYED);
	assert_int_equal(f->table->entries[idx].result, 40000);
	assert_memory_equal(f->pool + pool_offset, data, 40000);
	for (i = 0; i < sizeof(smbd_buf); i++) {
		assert_int_equal(smbd_buf[i], 0xaa);
	}
	assert_true(smbdirect_zc_retire(f->table, idx));

	/* WRITE: the file gets the slot, not smbd's copy */
	w.op = SMBDIRECT_ZC_OP_WRITE;
	w.message_id = 42;
	w.offset = 4096;
	w.length = 8192;
	w.pool_offset = 2 << 20;
	idx = smbdirect_zc_publish(f->table, &w);
	io.offset = 4096;
	io.count = 4096;
	assert_int_equal(smbdirect_zc_async_claim(f->link,
						  SMBDIRECT_ZC_OP_WRITE, 42,
						  &io, &pool_offset), -1);
	io.count = 8192;
	assert_int_equal(smbdirect_zc_async_claim(f->link,
						  SMBDIRECT_ZC_OP_WRITE, 42,
						  &io, &pool_offset), idx);
	for (i = 0; i < 8192; i++) {
		f->pool[pool_offset + i] = (uint8_t)(i * 13 + 1);
	}
	memset(smbd_buf, 0x55, 8192);
	args = (struct smbdirect_io_args) {
		.op = SMBDIRECT_IO_PWRITE,
		.fd = f->file_fd,
		.data = smbd_buf,
		.n = 8192,
		.offset = 4096,
		.ext_id = id,
		.ext_offset = pool_offset,
	};
	assert_int_equal(run_io(pool, ev, &args, &err), 8192);
	smbdirect_zc_async_done(f->link, idx, 8192);
	assert_int_equal(smbdirect_zc_state(f->table, idx), SMBDIRECT_ZC_DONE);
	assert_int_equal(pread(f->file_fd, back, 8192, 4096), 8192);
	assert_memory_equal(back, f->pool + pool_offset, 8192);
	assert_true(smbdirect_zc_retire(f->table, idx));

	/* a failed or short WRITE is DECLINED, and so is a released one */
	idx = smbdirect_zc_publish(f->table, &w);
	assert_int_equal(smbdirect_zc_async_claim(f->link,
						  SMBDIRECT_ZC_OP_WRITE, 42,
						  &io, &pool_offset), idx);
	smbdirect_zc_async_done(f->link, idx, 4096);
	assert_int_equal(smbdirect_zc_state(f->table, idx),
			 SMBDIRECT_ZC_DECLINED);
	assert_true(smbdirect_zc_retire(f->table, idx));
	idx = smbdirect_zc_publish(f->table, &w);
	assert_int_equal(smbdirect_zc_async_claim(f->link,
						  SMBDIRECT_ZC_OP_WRITE, 42,
						  &io, &pool_offset), idx);
	smbdirect_zc_async_release(smbdirect_zc_async_token(f->link, idx));
	assert_int_equal(smbdirect_zc_state(f->table, idx),
			 SMBDIRECT_ZC_DECLINED);
	assert_true(smbdirect_zc_retire(f->table, idx));

	talloc_free(pool);
	talloc_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attach_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sendfile_claims, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sendfile_short_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_claims, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recvfile_claims, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
