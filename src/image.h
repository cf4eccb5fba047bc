/* SPDX-License-Identifier: MIT */
/* The tracker program (tracker-main.c and the tracker modules, linked as an
 * executable), embedded as bytes by the build (tools/bin2c.c). */
#ifndef RT_IMAGE_H
#define RT_IMAGE_H

#include <stddef.h>

extern const unsigned char rt__tracker_image[];
extern const size_t rt__tracker_image_size;

#endif /* RT_IMAGE_H */
