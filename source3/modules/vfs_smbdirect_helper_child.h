/*
 * vfs_smbdirect: the forked I/O helper process
 * (vfs_smbdirect_helper_child.c)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _VFS_SMBDIRECT_HELPER_CHILD_H_
#define _VFS_SMBDIRECT_HELPER_CHILD_H_

#include <sys/types.h>
#include "lib/util/attr.h"

/*
 * Called in the child right after fork(), with every signal blocked:
 * serves the requests that arrive on sock (vfs_smbdirect_helpers_wire.h)
 * until the parent closes its end, then leaves with _exit(). parent is
 * the pid that forked it, to notice a parent that died before the
 * child asked to die with it.
 */
void sdio_child_main(int sock, pid_t parent) _NORETURN_;

#endif
