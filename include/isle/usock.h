/* Unix stream sockets at a path, as every isle server makes them
 * (isle-tapdisk's and isle-netback's vhost-user sockets, isle-netback's
 * stats socket; later the VMM's control socket).
 *
 * Contract:
 *  - usock_listen() binds and listens. A stale socket file (a connect to it
 *    is refused: nobody is listening) is replaced; a live one is
 *    -EADDRINUSE, and a server whose backlog is full counts as live; a path
 *    that exists and is not a socket is -EEXIST; a path too long for
 *    sun_path is -ENAMETOOLONG. Returns the listening fd (close-on-exec)
 *    and records the file it made in *made, for usock_unlink_own(); sets
 *    *replaced (if not NULL) when it replaced a stale file. Nothing is
 *    logged.
 *  - usock_unlink_own() removes the path only if it is still the file
 *    usock_listen() made: a successor may already have replaced it. */
#ifndef ISLE_USOCK_H
#define ISLE_USOCK_H

#include <sys/stat.h>

#include <stdbool.h>

int usock_listen(const char *path, int backlog, struct stat *made, bool *replaced);
void usock_unlink_own(const char *path, const struct stat *made);

#endif
