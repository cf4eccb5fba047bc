/* SPDX-License-Identifier: MIT */
/* Reaching a registered absolute path without following a symbolic link in
 * any component, and telling mount points apart, for the `file` and
 * `folder` cleanups. Tracker, AS-safe (no allocation, raw system calls). */
#ifndef RT_PATHRES_H
#define RT_PATHRES_H

#include <stddef.h>

/* Whether PATH (LEN bytes) is an absolute normalised path: starts with '/',
 * no empty component ("//"), no "." or ".." component, no trailing '/', not
 * "/" itself, no NUL byte, each component < NAME_MAX+1 bytes, the whole
 * < PATH_MAX. 1 or 0. Pure: MT-safe, AS-safe. */
int rt__path_valid(const char *path, size_t len);

/* Opens the folder holding the last component of the absolute PATH (LEN
 * bytes) without following a symbolic link in any component. PATH must be
 * normalised: starts with '/', no empty component ("//"), no "." or ".."
 * component, no trailing '/', not "/" itself, each component < NAME_MAX+1,
 * total < PATH_MAX. Returns an O_RDONLY|O_DIRECTORY|O_CLOEXEC descriptor
 * above 2 and stores in *RET_BASE the offset of the last component in PATH;
 * or -EINVAL (not normalised, "/"), -ELOOP (a component is a link),
 * -ENOTDIR, -ENOENT, -EACCES, -ENAMETOOLONG, -EMFILE ... AS-safe: no
 * allocation, raw system calls only. */
int rt__path_open_parent(const char *path, size_t len, size_t *ret_base);

/* Whether NAME in the folder DIRFD is a mount point (a bind mount of the
 * same file system included), not following a link: 1, 0, or -errno.
 * How it is told on each kernel, and when it cannot be (EOPNOTSUPP): see
 * the mount point section of pathres.c. */
int rt__path_is_mount(int dirfd, const char *name);

/* Whether the open file FD, reached through the folder DIRFD, is the root
 * of a mount: what rt__path_is_mount tells for a name, told for what was
 * actually opened, so that nothing mounted between a check and an open can
 * slip through. 1, 0, or -errno. */
int rt__path_is_mount_fd(int dirfd, int fd);

/* The `file` cleanup: unlinks NAME in DIRFD unless it is a folder (-EISDIR)
 * or a mount point (-EBUSY). A symbolic link is removed, never followed.
 * 0 or -errno. */
int rt__path_unlink_file(int dirfd, const char *name);

/* For tests: makes the functions above take the way they take on an older
 * kernel. BITS is a set of RT_PATH_NO_*; 0 restores the normal behaviour.
 * Not MT-safe. */
enum {
    RT_PATH_NO_OPENAT2 = 1, /* walk from "/" with O_NOFOLLOW */
    RT_PATH_NO_STATX = 2,   /* no STATX_ATTR_MOUNT_ROOT: compare mount ids */
    RT_PATH_NO_HANDLE = 4,  /* no name_to_handle_at: /proc/self/fdinfo */
};
void rt__path_force_fallback(unsigned bits);

#endif /* RT_PATHRES_H */
