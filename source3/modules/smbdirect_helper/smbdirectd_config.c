/*
 * smbdirectd: the settings it takes from smb.conf
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "smbdirectd_config.h"
#include "smbdirect_zerocopy_config.h"
#include "librpc/gen_ndr/ioctl.h"
#include "lib/util/smb_strtox.h"

#include <ifaddrs.h>

#define PARM "smbdirect"

static bool is_numeric_address(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	       inet_pton(AF_INET6, s, &a6) == 1;
}

static bool add_listen(struct smbdirectd_config *cfg, const char *addr)
{
	size_t i;

	for (i = 0; i < cfg->num_listen; i++) {
		if (strcmp(cfg->listen[i], addr) == 0) {
			return true;
		}
	}
	cfg->listen = talloc_realloc(cfg,
				     cfg->listen,
				     const char *,
				     cfg->num_listen + 2);
	if (cfg->listen == NULL) {
		return false;
	}
	cfg->listen[cfg->num_listen] = talloc_strdup(cfg->listen, addr);
	if (cfg->listen[cfg->num_listen] == NULL) {
		return false;
	}
	cfg->num_listen += 1;
	cfg->listen[cfg->num_listen] = NULL;
	return true;
}

/* An interface name ("eth1") stands for all its IPv4/IPv6 addresses. */
static bool add_interface_addresses(struct smbdirectd_config *cfg,
				    const char *ifname)
{
	struct ifaddrs *ifs = NULL;
	struct ifaddrs *ifa = NULL;
	bool found = false;
	bool ok = true;

	if (getifaddrs(&ifs) != 0) {
		DBG_ERR("getifaddrs failed: %s\n", strerror(errno));
		return false;
	}
	for (ifa = ifs; ifa != NULL && ok; ifa = ifa->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a = NULL;
		int family;

		if (ifa->ifa_addr == NULL ||
		    strcmp(ifa->ifa_name, ifname) != 0) {
			continue;
		}
		family = ifa->ifa_addr->sa_family;
		if (family == AF_INET) {
			a = &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		} else if (family == AF_INET6) {
			a = &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
		} else {
			continue;
		}
		if (inet_ntop(family, a, buf, sizeof(buf)) == NULL) {
			continue;
		}
		found = true;
		ok = add_listen(cfg, buf);
	}
	freeifaddrs(ifs);
	if (!found) {
		DBG_WARNING("interfaces: no address on interface %s\n",
			    ifname);
	}
	return ok;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)ss;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/*
 * The "interfaces" entries marked capability=RDMA, read with smbd's own
 * code (load_interfaces): names, wildcards, address/mask, DNS names and
 * the "IP;capability=RDMA,speed=N" options mean here exactly what they
 * mean to smbd, which advertises the same list to clients in
 * FSCTL_QUERY_NETWORK_INTERFACE_INFO. So clients look for SMB Direct
 * exactly where smbdirectd listens.
 */
static bool add_rdma_interfaces(struct smbdirectd_config *cfg)
{
	int n;
	int i;

	load_interfaces();
	n = iface_count();
	for (i = 0; i < n; i++) {
		const struct interface *iface = get_interface(i);
		char buf[INET6_ADDRSTRLEN];

		if (iface == NULL) {
			continue;
		}
		print_sockaddr(buf, sizeof(buf), &iface->ip);
		if (is_loopback(&iface->ip) &&
		    lp_server_multi_channel_support()) {
			/*
			 * smbd offers it to multichannel clients, which
			 * then open channels to themselves over TCP.
			 */
			DBG_WARNING("interfaces: smbd advertises the loopback "
				    "address %s to multichannel clients; "
				    "remove it (smbdirectd reaches smbd at "
				    "smbdirect:smbd address as long as bind "
				    "interfaces only = no)\n",
				    buf);
		}
		if (!(iface->capability & FSCTL_NET_IFACE_RDMA_CAPABLE)) {
			continue;
		}
		if (!add_listen(cfg, buf)) {
			return false;
		}
	}
	return true;
}

static bool parm_uint(const char *option,
		      unsigned long def,
		      unsigned long min,
		      unsigned long max,
		      uint32_t *value)
{
	unsigned long v = lp_parm_ulong(-1, PARM, option, def);

	if (v < min || v > max) {
		DBG_ERR("smb.conf: smbdirect:%s = %lu is out of range "
			"(%lu..%lu)\n",
			option,
			v,
			min,
			max);
		return false;
	}
	*value = v;
	return true;
}

/* smbdirect:port = N [N...]; unset leaves cfg->ports empty (see .h) */
static bool parse_ports(struct smbdirectd_config *cfg)
{
	const char **list = lp_parm_string_list(-1, PARM, "port", NULL);
	size_t n = str_list_length(list);
	size_t i;

	if (n == 0) {
		return true;
	}
	cfg->ports = talloc_array(cfg, uint16_t, n);
	if (cfg->ports == NULL) {
		return false;
	}
	for (i = 0; i < n; i++) {
		int error = 0;
		unsigned long v = smb_strtoul(
			list[i], NULL, 10, &error, SMB_STR_FULL_STR_CONV);

		if (error != 0 || v < 1 || v > 65535) {
			DBG_ERR("smb.conf: smbdirect:port: '%s' is not a port "
				"number (1..65535)\n",
				list[i]);
			return false;
		}
		cfg->ports[i] = v;
	}
	cfg->num_ports = n;
	return true;
}

struct smbdirectd_config *smbdirectd_config_load(TALLOC_CTX *mem_ctx)
{
	struct smbdirectd_config *cfg = NULL;
	struct smbdirect_params *p = NULL;
	struct smbdirect_err err = {0};
	const char **list = NULL;
	uint32_t v = 0;
	size_t i;
	bool ok = true;

	cfg = talloc_zero(mem_ctx, struct smbdirectd_config);
	if (cfg == NULL) {
		return NULL;
	}
	p = &cfg->proto;
	smbdirect_params_set_defaults(p);

	ok &= parm_uint("receive credits", p->receive_credit_max, 1, 65535, &v);
	p->receive_credit_max = v;
	ok &= parm_uint("send credits", p->send_credit_target, 1, 65535, &v);
	p->send_credit_target = v;
	ok &= parm_uint("max send size", p->max_send_size,
			SMBDIRECT_MIN_RECEIVE_SIZE, SMBDIRECT_MAX_MESSAGE_SIZE,
			&p->max_send_size);
	ok &= parm_uint("max receive size", p->max_receive_size,
			SMBDIRECT_MIN_RECEIVE_SIZE, SMBDIRECT_MAX_MESSAGE_SIZE,
			&p->max_receive_size);
	ok &= parm_uint("max fragmented size", p->max_fragmented_size,
			SMBDIRECT_MIN_FRAGMENTED_SIZE,
			SMBDIRECT_MAX_FRAGMENTED_SIZE,
			&p->max_fragmented_size);
	ok &= parm_uint("max read write size", p->max_read_write_size,
			65536, SMBDIRECT_MAX_READ_WRITE_SIZE_LIMIT,
			&p->max_read_write_size);
	ok &= parm_uint("keepalive interval", p->keepalive_interval_sec,
			0, 3600, &p->keepalive_interval_sec);
	ok &= parm_uint("keepalive timeout", p->keepalive_timeout_sec,
			1, 3600, &p->keepalive_timeout_sec);
	ok &= parse_ports(cfg);
	ok &= parm_uint("smbd port", SMBDIRECTD_DEFAULT_SMBD_PORT, 1, 65535, &v);
	cfg->smbd_port = v;
	ok &= parm_uint("negotiate timeout",
			SMBDIRECTD_DEFAULT_NEGOTIATE_TIMEOUT, 1, 600,
			&cfg->negotiate_timeout_sec);
	ok &= parm_uint("max connections",
			SMBDIRECTD_DEFAULT_MAX_CONNECTIONS, 1, 65536,
			&cfg->max_connections);
	ok &= parm_uint("pool size", SMBDIRECTD_DEFAULT_POOL_SIZE_MB, 1,
			65536, &v);
	cfg->pool_size = (size_t)v << 20;
	if (!ok) {
		TALLOC_FREE(cfg);
		return NULL;
	}
	/*
	 * An offloaded WRITE reaches smbd inline, in one PDU of at most
	 * 16 MiB (the stream header's 24-bit length), and smbd refuses
	 * anything above its own smb2 max read/write: never announce more.
	 */
	{
		uint32_t limit = MIN(lp_smb2_max_read(), lp_smb2_max_write());

		limit = MIN(limit, 0x00FFFFFF - 0x70);
		if (p->max_read_write_size > limit) {
			DBG_WARNING("smbdirect:max read write size %u lowered "
				    "to %u (smb2 max read/write and the SMB2 "
				    "stream limit)\n",
				    p->max_read_write_size,
				    limit);
			p->max_read_write_size = limit;
		}
	}
	if (cfg->pool_size < p->max_read_write_size) {
		DBG_ERR("smb.conf: smbdirect:pool size (%zu MiB) must hold at "
			"least one smbdirect:max read write size (%u bytes)\n",
			cfg->pool_size >> 20,
			p->max_read_write_size);
		TALLOC_FREE(cfg);
		return NULL;
	}
	if (smbdirect_params_validate(p, &err) != 0) {
		DBG_ERR("smb.conf: %s\n", err.reason);
		TALLOC_FREE(cfg);
		return NULL;
	}

	cfg->smbd_address = talloc_strdup(
		cfg,
		lp_parm_const_string(-1, PARM, "smbd address",
				     SMBDIRECTD_DEFAULT_SMBD_ADDRESS));
	if (cfg->smbd_address == NULL ||
	    !is_numeric_address(cfg->smbd_address)) {
		DBG_ERR("smb.conf: smbdirect:smbd address must be a numeric "
			"IPv4 or IPv6 address\n");
		TALLOC_FREE(cfg);
		return NULL;
	}

	cfg->zero_copy = smbdirect_zc_enabled();
	cfg->control_socket = smbdirect_zc_socket_path(cfg);
	if (cfg->control_socket == NULL) {
		TALLOC_FREE(cfg);
		return NULL;
	}

	ok = add_rdma_interfaces(cfg);
	list = lp_parm_string_list(-1, PARM, "listen", NULL);
	for (i = 0; list != NULL && list[i] != NULL && ok; i++) {
		if (!is_numeric_address(list[i])) {
			ok = add_interface_addresses(cfg, list[i]);
			continue;
		}
		ok = add_listen(cfg, list[i]);
	}
	if (!ok) {
		TALLOC_FREE(cfg);
		return NULL;
	}
	return cfg;
}

void smbdirectd_config_log(const struct smbdirectd_config *cfg)
{
	const struct smbdirect_params *p = &cfg->proto;
	size_t i;

	for (i = 0; i < cfg->num_listen; i++) {
		DBG_WARNING("listen address %s\n", cfg->listen[i]);
	}
	if (cfg->num_ports == 0) {
		DBG_WARNING("rdma_cm ports: %u, and %u on InfiniBand and RoCE "
			    "devices (smbdirect:port not set)\n",
			    SMBDIRECTD_PORT_IWARP,
			    SMBDIRECTD_PORT_IB);
	}
	for (i = 0; i < cfg->num_ports; i++) {
		DBG_WARNING("rdma_cm port %u (smbdirect:port)\n",
			    cfg->ports[i]);
	}
	DBG_WARNING("relay to smbd at %s port %u; receive credits %u, send "
		    "credits %u, max send %u, max receive %u, max fragmented "
		    "%u, max read/write %u, keepalive %u s (timeout %u s), "
		    "negotiate timeout %u s, max connections %u, offload pool "
		    "%zu MiB, zero copy %s (%s)\n",
		    cfg->smbd_address,
		    cfg->smbd_port,
		    p->receive_credit_max,
		    p->send_credit_target,
		    p->max_send_size,
		    p->max_receive_size,
		    p->max_fragmented_size,
		    p->max_read_write_size,
		    p->keepalive_interval_sec,
		    p->keepalive_timeout_sec,
		    cfg->negotiate_timeout_sec,
		    cfg->max_connections,
		    cfg->pool_size >> 20,
		    cfg->zero_copy ? "on" : "off",
		    cfg->control_socket);
}
