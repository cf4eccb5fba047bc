/* SPDX-License-Identifier: MIT */
/* The liveness word. Host side: MT-safe under the client mutex. Tracker
 * side: AS-safe (raw system calls). */

/* memfd_create(2), set_robust_list(2), gettid: Linux calls; elsewhere
 * rt__alive_create fails with ENOSYS and the host probes the pipe. */
#define _GNU_SOURCE
#include "alive.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* The kernel's robust-futex word: the owner's thread id in the low bits
 * (<linux/futex.h>, which a musl toolchain may not ship). */
#define TID_MASK 0x3fffffffu

#include "fdio.h"

#define PAGE 4096

_Atomic uint32_t *rt__alive_word(void *page)
{
    return (_Atomic uint32_t *)page;
}

void rt__alive_free(void *page)
{
    if (page != NULL) {
        (void)munmap(page, PAGE);
    }
}

#if defined(__linux__) && defined(SYS_set_robust_list) && defined(MFD_CLOEXEC)

int rt__alive_create(void **ret_page)
{
    int fd = memfd_create("resource_tracker_alive", MFD_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    /* Never on 0, 1 or 2: the tracker would take it for its stderr. */
    fd = rt__fd_lift(fd);
    if (fd < 0) {
        return fd;
    }
    /* Written, not just sized: the page is allocated now, so that a store
     * through the mapping can never fault for want of memory (SIGBUS). */
    static const char zero[PAGE];
    ssize_t w = pwrite(fd, zero, PAGE, 0);
    if (w != PAGE) {
        int err = w < 0 ? errno : ENOSPC;
        rt__fd_close(fd);
        return -err;
    }
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        rt__fd_close(fd);
        return -err;
    }
    *ret_page = p;
    return fd;
}

int rt__alive_install(void **stable, void *new_page)
{
    if (*stable == NULL) {
        *stable = new_page;
        return 0;
    }
    if (mremap(new_page, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, *stable) ==
        MAP_FAILED) {
        int err = errno;
        rt__alive_free(new_page);
        return -err;
    }
    return 0;
}

/* The kernel's robust-futex list ABI (Documentation/robust-futex-ABI). The
 * list lives in the tracker's own memory; only the word it points at (by
 * offset) is in the shared page, so the host cannot corrupt the list. */
struct robust_node {
    struct robust_node *next;
};
struct robust_head {
    struct robust_node list;
    long futex_offset;
    struct robust_node *pending;
};
static struct robust_node node;
static struct robust_head head;

void rt__alive_claim(int fd)
{
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return;
    }
    _Atomic uint32_t *word = p;
    head.list.next = &node;
    node.next = &head.list;
    head.futex_offset = (long)((char *)p - (char *)&node);
    head.pending = NULL;
    if (syscall(SYS_set_robust_list, &head, (long)sizeof(head)) < 0) {
        return;
    }
    long tid = syscall(SYS_gettid);
    atomic_store_explicit(word, (uint32_t)tid & TID_MASK, memory_order_release);
}

#else

int rt__alive_create(void **ret_page)
{
    (void)ret_page;
    return -ENOSYS;
}

int rt__alive_install(void **stable, void *new_page)
{
    (void)stable;
    (void)new_page;
    return -ENOSYS;
}

void rt__alive_claim(int fd)
{
    (void)fd;
}

#endif
