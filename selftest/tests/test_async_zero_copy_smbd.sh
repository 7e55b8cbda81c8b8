#!/bin/bash
#
# test_async_zero_copy.sh with "smbdirect:async io = smbd": smbd's own
# thread pool reads into and writes from smbdirectd's pool slots (the
# module only points the claimed requests at them), no helper processes.
#
# Runs inside the test VM: selftest/run-integration test_async_zero_copy_smbd

SMBDIRECT_TEST_ASYNC_IO=smbd
# shellcheck source=test_async_zero_copy.sh
. "$(dirname "$0")/test_async_zero_copy.sh"
