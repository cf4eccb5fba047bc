/* SPDX-License-Identifier: MIT */
/* Removing a folder tree without ever following a symbolic link or crossing
 * a mount point. Tracker, single-threaded, AS-safe on Linux (no
 * allocation). */
#ifndef RT_RMTREE_H
#define RT_RMTREE_H

/* Deepest nesting removed, the folder named counting as the first level:
 * a folder deeper than this is left, with what it holds (ELOOP). */
#define RT_RMTREE_DEPTH 128

/* Removes the tree NAME in the folder DIRFD: never follows a link (a link
 * inside is removed, its target untouched), never enters or removes a mount
 * point (bind mounts included: -EBUSY/-EXDEV noted), goes at most
 * RT_RMTREE_DEPTH levels deep (deeper folders are left, -ELOOP noted),
 * lists each folder a bounded number of times (linear work overall, even
 * with entries that cannot be removed or that racing processes add), and
 * removes everything else it can. Returns 0 or the -errno of the first
 * failure. NAME must not be a mount point. AS-safe on Linux (static
 * buffers, getdents64), single-threaded (tracker).
 *
 * NAME is one component (else -EINVAL). A link at NAME is removed, not
 * followed; NAME being a mount point is refused (-EBUSY), checked on what
 * was opened. Everything below is reached through folder descriptors opened
 * with O_NOFOLLOW, so a folder swapped for a link while the removal runs is
 * removed as a link, never entered. A mount point inside the tree is left
 * (-EXDEV), as is a folder that would be level RT_RMTREE_DEPTH + 1
 * (-ELOOP). A folder is listed once more only when every entry seen was
 * removed and it still is not empty (entries added meanwhile), at most
 * three times in all; one with an entry that cannot be removed is listed
 * once and left, so an undeletable entry costs one error and no more. */
int rt__rmtree_at(int dirfd, const char *name);

#endif /* RT_RMTREE_H */
