// SPDX-License-Identifier: MIT
// The public header compiles as C++ (extern "C", no C-only constructs)
// and its declarations are usable from C++.
#include <resourcetracker.h>

static int cleanup(const char *name)
{
    return name != nullptr ? 0 : -1;
}

int main()
{
    int (*reg)(const char *, const char *) = rt_register;
    pid_t pid = rt_tracker_pid();
    int r = rt_define_type("cxx_type", cleanup);
    sem_t *s = rt_sem_open("/rt-cxx-unused", 0);
    (void)s;
    (void)reg;
    (void)pid;
    (void)r;
    (void)rt_ensure_running;
    (void)rt_unregister;
    (void)rt_getfd;
    (void)rt_setfd;
    (void)rt_shm_open;
    (void)rt_shm_unlink;
    (void)rt_sem_unlink;
#ifdef RT_HAVE_MQUEUE
    (void)rt_mq_open;
    (void)rt_mq_unlink;
#endif
    (void)rt_spawn_prepare;
    (void)rt_spawn_free;
    return 0;
}
