/* SPDX-License-Identifier: MIT */
/* Removing a folder tree without ever following a symbolic link. Tracker,
 * single-threaded, AS-safe on Linux (no allocation). */
#ifndef RT_RMTREE_H
#define RT_RMTREE_H

/* Deepest nesting removed; deeper trees are left in part (ELOOP). */
#define RT_RMTREE_DEPTH 128

/* Removes the tree at the absolute PATH. Everything below it is reached
 * through directory descriptors (openat, unlinkat) opened with O_NOFOLLOW,
 * so a symbolic link inside the tree is removed and never entered, even if
 * a folder is swapped for a link while the removal runs. A symbolic link at
 * PATH itself is removed, not followed. Folders on another file system (a
 * mount inside the tree) are not entered (EXDEV). Removes all it can, and
 * returns 0 or -1 with errno set to the first error met. */
int rt__rmtree(const char *path);

#endif /* RT_RMTREE_H */
