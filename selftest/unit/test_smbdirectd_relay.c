/*
 * Unit tests for the read side of smbdirectd_relay.c: smbd's PDUs taken
 * from the connection's input buffer, over a real loopback TCP
 * connection standing in for smbd's. The file is included whole for its
 * static functions; what it calls in other layers is stubbed below.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "smbdirectd_relay.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

/* ---- stand-ins for the layers the relay reports to ---------------- */

static char *closed_reason;

void conn_close(struct smbdirectd_conn *conn, const char *fmt, ...)
{
	va_list ap;

	if (conn->state == CONN_CLOSING) {
		return;
	}
	va_start(ap, fmt);
	closed_reason = talloc_vasprintf(NULL, fmt, ap);
	va_end(ap);
	conn->state = CONN_CLOSING;
	/* as the real one: the reader goes before the socket */
	TALLOC_FREE(conn->smbd_in);
}

void conn_pump(struct smbdirectd_conn *conn)
{
}

pid_t smbdirectd_procnet_smbd_pid(uint16_t our_port, uint16_t smbd_port)
{
	return 1;
}

/* ---- the fixture -------------------------------------------------- */

#define MAX_GOT 16
#define PROBE_ASK 0xFE /* first byte of a PDU whose probe answers byte 1 */

struct got_pdu {
	uint8_t *pdu;
	size_t len;
	struct offload_record *zc_rec;
};

struct fixture {
	struct tevent_context *ev;
	struct smbdirectd_ctx *ctx;
	struct smbdirectd_conn *conn;
	int peer; /* smbd's end, non-blocking */
	uint8_t *out; /* what "smbd" still has to send */
	size_t out_len;
	size_t out_ofs;
	struct got_pdu got[MAX_GOT];
	size_t n_got;
	unsigned probes;
	bool ask_again; /* the consumer asks for the next PDU at once */
	unsigned depth;
};

static struct fixture *fx;

static int fake_probe(struct smbdirectd_conn *conn,
		      const uint8_t *hdr,
		      size_t pdu_len,
		      struct offload_record **rec)
{
	fx->probes += 1;
	*rec = NULL;
	if (hdr[0] != PROBE_ASK) {
		return 0;
	}
	if (hdr[1] == 0xFF) {
		return -1;
	}
	if (hdr[1] == 1 || hdr[1] == 2) {
		*rec = (struct offload_record *)(uintptr_t)0x1234;
	}
	return hdr[1];
}

static void fake_received(struct smbdirectd_conn *conn,
			  uint8_t *pdu,
			  size_t len,
			  struct offload_record *zc_rec)
{
	struct got_pdu *g = NULL;

	assert_true(fx->n_got < MAX_GOT);
	assert_ptr_equal(talloc_parent(pdu), conn);
	assert_int_equal(talloc_get_size(pdu), len);
	/* never nested: the next PDU does not come from this call */
	fx->depth += 1;
	assert_int_equal(fx->depth, 1);
	g = &fx->got[fx->n_got++];
	g->pdu = talloc_move(fx, &pdu);
	g->len = len;
	g->zc_rec = zc_rec;
	if (fx->ask_again) {
		conn_smbd_read_next(conn);
	}
	fx->depth -= 1;
}

static void tcp_pair(int *ours, int *peer)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	assert_true(l >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*ours = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*ours >= 0);
	assert_int_equal(connect(*ours, (struct sockaddr *)&a, sizeof(a)), 0);
	*peer = accept(l, NULL, NULL);
	assert_true(*peer >= 0);
	close(l);
	assert_int_equal(setsockopt(*peer, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one)), 0);
	assert_int_equal(fcntl(*peer, F_SETFL, O_NONBLOCK), 0);
}

static int setup(void **state)
{
	int ours = -1;

	fx = talloc_zero(NULL, struct fixture);
	assert_non_null(fx);
	fx->ev = tevent_context_init(fx);
	assert_non_null(fx->ev);
	fx->ctx = talloc_zero(fx, struct smbdirectd_ctx);
	fx->ctx->ev = fx->ev;
	fx->ctx->cfg = talloc_zero(fx->ctx, struct smbdirectd_config);
	fx->conn = talloc_zero(fx, struct smbdirectd_conn);
	fx->conn->ctx = fx->ctx;
	fx->conn->state = CONN_RUNNING;
	fx->conn->smbd_probe = fake_probe;
	fx->conn->smbd_received = fake_received;
	tcp_pair(&ours, &fx->peer);
	fx->conn->smbd_fd = ours;
	fx->conn->smbd_in = smbd_input_create(fx->conn);
	assert_non_null(fx->conn->smbd_in);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	TALLOC_FREE(fx->conn->smbd_in);
	close(fx->conn->smbd_fd);
	if (fx->peer != -1) {
		close(fx->peer);
	}
	TALLOC_FREE(fx);
	TALLOC_FREE(closed_reason);
	return 0;
}

/* Publish zero-copy READs: PDUs longer than the probe are probed. */
static void zc_reads(void)
{
	fx->conn->zc = talloc_zero(fx->conn, struct smbdirectd_zc);
	fx->conn->zc->reads = 1;
}

/* Queue a PDU of len bytes for "smbd": byte i is (seed + i), head first. */
static void smbd_sends(size_t len, uint8_t seed, const uint8_t *head,
		       size_t head_len, uint32_t nbt_len)
{
	size_t i;
	uint8_t *p = NULL;

	fx->out = talloc_realloc(fx, fx->out, uint8_t,
				 fx->out_len + NBT_HDR_SIZE + len);
	p = fx->out + fx->out_len;
	PUSH_BE_U32(p, 0, nbt_len != 0 ? nbt_len : len);
	for (i = 0; i < len; i++) {
		p[NBT_HDR_SIZE + i] = (uint8_t)(seed + i);
	}
	if (head != NULL) {
		memcpy(p + NBT_HDR_SIZE, head, MIN(head_len, len));
	}
	fx->out_len += NBT_HDR_SIZE + len;
}

/* "smbd" writes what the socket takes, at most max bytes. */
static void smbd_push(size_t max)
{
	size_t n = MIN(max, fx->out_len - fx->out_ofs);
	ssize_t sent;

	if (n == 0) {
		return;
	}
	sent = send(fx->peer, fx->out + fx->out_ofs, n, MSG_DONTWAIT);
	if (sent == -1) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return;
	}
	fx->out_ofs += sent;
}

static void timed_out(struct tevent_context *ev,
		      struct tevent_timer *te,
		      struct timeval now,
		      void *private_data)
{
	*(bool *)private_data = true;
}

/* Run the loop, "smbd" sending, until n PDUs went up, a close or 2 s. */
static void run_until(size_t n)
{
	bool late = false;
	struct tevent_timer *te = tevent_add_timer(
		fx->ev, fx, timeval_current_ofs(2, 0), timed_out, &late);

	assert_non_null(te);
	while (fx->n_got < n && closed_reason == NULL && !late) {
		smbd_push(SIZE_MAX);
		assert_int_equal(tevent_loop_once(fx->ev), 0);
	}
	if (!late) {
		TALLOC_FREE(te); /* a timer that fired is gone */
	}
}

/* A few turns of the loop with nothing expected to happen. */
static void run_idle(void)
{
	bool late = false;
	struct tevent_timer *te = tevent_add_timer(
		fx->ev, fx, timeval_current_ofs(0, 50000), timed_out, &late);

	assert_non_null(te);
	while (!late) {
		assert_int_equal(tevent_loop_once(fx->ev), 0);
	}
	if (!late) {
		TALLOC_FREE(te); /* a timer that fired is gone */
	}
}

static void assert_pdu(size_t i, size_t len, uint8_t seed, size_t from)
{
	size_t k;

	assert_true(i < fx->n_got);
	assert_int_equal(fx->got[i].len, len);
	for (k = from; k < len; k++) {
		if (fx->got[i].pdu[k] != (uint8_t)(seed + k)) {
			fail_msg("PDU %zu byte %zu: %u, not %u", i, k,
				 fx->got[i].pdu[k], (uint8_t)(seed + k));
		}
	}
}

static int socket_pending(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* ---- the tests ---------------------------------------------------- */

/* Three PDUs in one recv() go up one at a time, only when asked. */
static void test_pdus_one_at_a_time(void **state)
{
	smbd_sends(10, 1, NULL, 0, 0);
	smbd_sends(100, 2, NULL, 0, 0);
	smbd_sends(70, 3, NULL, 0, 0);
	smbd_push(SIZE_MAX);
	usleep(10000); /* all on the socket before the first recv() */

	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_int_equal(fx->n_got, 1);
	assert_pdu(0, 10, 1, 0);
	assert_int_equal(socket_pending(fx->conn->smbd_fd), 0);

	run_idle();
	assert_int_equal(fx->n_got, 1);

	conn_smbd_read_next(fx->conn);
	conn_smbd_read_next(fx->conn); /* asked already: nothing more */
	assert_int_equal(fx->n_got, 1); /* not from within the call */
	run_until(3);
	assert_int_equal(fx->n_got, 2);
	assert_pdu(1, 100, 2, 0);

	conn_smbd_read_next(fx->conn);
	run_until(3);
	assert_int_equal(fx->n_got, 3);
	assert_pdu(2, 70, 3, 0);
	assert_null(closed_reason);
}

/* The consumer asking from within its callback: no nesting, in order. */
static void test_ask_again(void **state)
{
	size_t i;

	fx->ask_again = true;
	for (i = 0; i < 8; i++) {
		smbd_sends(20 + i, (uint8_t)i, NULL, 0, 0);
	}
	conn_smbd_read_next(fx->conn);
	run_until(8);
	assert_int_equal(fx->n_got, 8);
	for (i = 0; i < 8; i++) {
		assert_pdu(i, 20 + i, (uint8_t)i, 0);
	}
	assert_null(closed_reason);
}

/* Paused: smbd's bytes stay on the socket. */
static void test_paused_leaves_socket(void **state)
{
	smbd_sends(50, 7, NULL, 0, 0);
	smbd_push(SIZE_MAX);
	run_idle();
	assert_int_equal(socket_pending(fx->conn->smbd_fd), 54);

	fx->conn->out_bytes = RELAY_HIGH_WATER + 1;
	conn_smbd_read_next(fx->conn);
	run_idle();
	assert_int_equal(fx->n_got, 0);
	assert_int_equal(socket_pending(fx->conn->smbd_fd), 54);

	fx->conn->out_bytes = 0;
	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_pdu(0, 50, 7, 0);

	/* after a PDU went up, until the consumer asks again */
	smbd_sends(60, 8, NULL, 0, 0);
	smbd_push(SIZE_MAX);
	run_idle();
	assert_int_equal(fx->n_got, 1);
	assert_int_equal(socket_pending(fx->conn->smbd_fd), 64);
	conn_smbd_read_next(fx->conn);
	run_until(2);
	assert_pdu(1, 60, 8, 0);
}

/* A header and a PDU that come in pieces. */
static void test_split(void **state)
{
	smbd_sends(300, 9, NULL, 0, 0);
	smbd_sends(30, 10, NULL, 0, 0);
	conn_smbd_read_next(fx->conn);
	smbd_push(2);
	run_idle();
	smbd_push(100);
	run_idle();
	assert_int_equal(fx->n_got, 0);
	run_until(1);
	assert_pdu(0, 300, 9, 0);
	conn_smbd_read_next(fx->conn);
	run_until(2);
	assert_pdu(1, 30, 10, 0);
}

/* Larger than the buffer: received straight into its own array. */
static void test_large(void **state)
{
	size_t big = 3 * SMBD_IN_BUF_SIZE + 17;

	smbd_sends(big, 11, NULL, 0, 0);
	smbd_sends(40, 12, NULL, 0, 0);
	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_pdu(0, big, 11, 0);
	conn_smbd_read_next(fx->conn);
	run_until(2);
	assert_pdu(1, 40, 12, 0);
	assert_null(closed_reason);
}

/*
 * Zero-copy READs: a claimed response goes up as its 80 probe bytes;
 * with 2 the rest is dropped (from the buffer, then unread beyond it),
 * with 1 it is not on the stream; unclaimed ones go up whole.
 */
static void test_probe(void **state)
{
	const uint8_t drop[] = {PROBE_ASK, 2};
	const uint8_t keep[] = {PROBE_ASK, 1};
	const uint8_t no[] = {PROBE_ASK, 0};
	size_t big = 4 * SMBD_IN_BUF_SIZE + 5;

	zc_reads();
	fx->ask_again = true;
	smbd_sends(SMBD_READ_PROBE_LEN + 4096, 20, drop, 2, 0);
	smbd_sends(SMBD_READ_PROBE_LEN + big, 21, drop, 2, 0);
	/* announces 1000 bytes, sends the 80 of the probe */
	smbd_sends(SMBD_READ_PROBE_LEN, 22, keep, 2, 1000);
	smbd_sends(200, 23, no, 2, 0);
	smbd_sends(SMBD_READ_PROBE_LEN, 24, NULL, 0, 0); /* not probed */
	conn_smbd_read_next(fx->conn);
	run_until(5);
	assert_null(closed_reason);
	assert_int_equal(fx->n_got, 5);
	assert_int_equal(fx->probes, 4);
	assert_pdu(0, SMBD_READ_PROBE_LEN, 20, 2);
	assert_non_null(fx->got[0].zc_rec);
	assert_pdu(1, SMBD_READ_PROBE_LEN, 21, 2);
	assert_non_null(fx->got[1].zc_rec);
	assert_pdu(2, SMBD_READ_PROBE_LEN, 22, 2);
	assert_non_null(fx->got[2].zc_rec);
	assert_pdu(3, 200, 23, 2);
	assert_null(fx->got[3].zc_rec);
	assert_pdu(4, SMBD_READ_PROBE_LEN, 24, 0);
}

static void test_bad_header(void **state)
{
	smbd_sends(20, 30, NULL, 0, 0x01000010);
	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_int_equal(fx->n_got, 0);
	assert_non_null(closed_reason);
	assert_non_null(strstr(closed_reason, "bad stream header"));
	assert_null(fx->conn->smbd_in);
}

static void test_probe_error(void **state)
{
	const uint8_t bad[] = {PROBE_ASK, 0xFF};

	zc_reads();
	smbd_sends(SMBD_READ_PROBE_LEN + 10, 31, bad, 2, 0);
	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_int_equal(fx->n_got, 0);
	assert_non_null(closed_reason);
	assert_non_null(strstr(closed_reason, "does not match"));
}

/* What smbd sent before it closed goes up first. */
static void test_end_of_stream(void **state)
{
	smbd_sends(60, 40, NULL, 0, 0);
	smbd_push(SIZE_MAX);
	shutdown(fx->peer, SHUT_WR);
	conn_smbd_read_next(fx->conn);
	run_until(1);
	assert_pdu(0, 60, 40, 0);
	assert_null(closed_reason);
	conn_smbd_read_next(fx->conn);
	run_until(2);
	assert_int_equal(fx->n_got, 1);
	assert_non_null(closed_reason);
	assert_string_equal(closed_reason,
			    "smbd closed the connection (end of stream)");
}

/* The end of the stream in the middle of bytes to drop. */
static void test_end_while_dropping(void **state)
{
	const uint8_t drop[] = {PROBE_ASK, 2};

	zc_reads();
	smbd_sends(SMBD_READ_PROBE_LEN + 200000, 50, drop, 2, 0);
	fx->out_len -= 1000;
	smbd_push(SIZE_MAX);
	conn_smbd_read_next(fx->conn);
	while (fx->out_ofs < fx->out_len) {
		run_idle();
		smbd_push(SIZE_MAX);
	}
	shutdown(fx->peer, SHUT_WR);
	run_until(1);
	assert_int_equal(fx->n_got, 0);
	assert_non_null(closed_reason);
	assert_non_null(strstr(closed_reason, "end of stream"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pdus_one_at_a_time,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_paused_leaves_socket,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_of_stream,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_while_dropping,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
