/* SPDX-License-Identifier: MIT */
/* A program that knows nothing of libresourcetracker (it is built without
 * it): it creates a shared-memory segment, a semaphore and a message queue
 * named after its argument, says "pid N ready", and waits to be killed. The
 * preload demo kills it with SIGKILL, alone and under
 * `resourcetracker run --preload`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: preload-leaker /NAME\n");
        return 2;
    }
    char sem_name[256];
    char mq_name[256];
    snprintf(sem_name, sizeof(sem_name), "%s-sem", argv[1]);
    snprintf(mq_name, sizeof(mq_name), "%s-mq", argv[1]);
    int fd = shm_open(argv[1], O_CREAT | O_EXCL | O_RDWR, 0600);
    sem_t *sem = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 1);
    mqd_t mq = mq_open(mq_name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    if (fd < 0 || ftruncate(fd, 1 << 20) < 0 || sem == SEM_FAILED ||
        mq == (mqd_t)-1) {
        perror("preload-leaker");
        return 1;
    }
    printf("pid %ld ready\n", (long)getpid());
    fflush(stdout);
    for (;;) {
        pause(); /* ... and never cleans up */
    }
}
