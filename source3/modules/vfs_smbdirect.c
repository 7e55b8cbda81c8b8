/*
 * vfs_smbdirect: the smbd side of SMB Direct for an unmodified Samba
 *
 * Stackable VFS module. This first version only registers itself and
 * passes every call to the next module, so that an administrator (and
 * the selftest) can verify that the distro's smbd loads a module built by
 * this project. Asynchronous pread/pwrite/fsync through forked helpers
 * and the zero-copy link to smbdirectd are added on top of this.
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
#include "smbd/smbd.h"

/*
 * The module is written against one VFS interface. Building it against
 * another would produce a module smbd refuses or, worse, misreads.
 */
#if SMB_VFS_INTERFACE_VERSION != 47
#error "vfs_smbdirect is written for SMB_VFS_INTERFACE_VERSION 47 (Samba 4.17)"
#endif

static int smbdirect_connect(struct vfs_handle_struct *handle,
			     const char *service,
			     const char *user)
{
	int ret;

	ret = SMB_VFS_NEXT_CONNECT(handle, service, user);
	if (ret < 0) {
		return ret;
	}

	/*
	 * Logged at NOTICE so that "log level = 3" (or vfs:3) shows which
	 * shares run through the module; the selftest relies on this line.
	 */
	DBG_NOTICE("connected to share [%s] as [%s]\n",
		   service,
		   user);
	return 0;
}

static struct vfs_fn_pointers vfs_smbdirect_fns = {
	.connect_fn = smbdirect_connect,
};

static_decl_vfs;
NTSTATUS vfs_smbdirect_init(TALLOC_CTX *ctx)
{
	return smb_register_vfs(SMB_VFS_INTERFACE_VERSION,
				"smbdirect",
				&vfs_smbdirect_fns);
}
