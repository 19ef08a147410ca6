/*
 * faultproxy.h
 *	  A TCP proxy on loopback between the library and the server, in a child
 *	  process of the test, that a test tells to misbehave: cut every
 *	  connection, delay what it forwards, or become a blackhole (forward
 *	  nothing, accept new connections and never answer them) until told to
 *	  behave again.  Poll-based, at most FP_MAXPAIRS connections; it exits
 *	  when told to, or when the test closes its control pipe.
 */
#ifndef BM_TEST_FAULTPROXY_H
#define BM_TEST_FAULTPROXY_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#define FP_MAXPAIRS 64

/* commands, one byte each on the control pipe */
#define FP_NORMAL 'n'			/* forward at once */
#define FP_CUT 'c'				/* close every connection now */
#define FP_DELAY 'd'			/* wait 100 ms before forwarding each chunk */
#define FP_BLACKHOLE 'b'		/* forward nothing, answer no new connection */
#define FP_QUIT 'q'				/* exit */

typedef struct fproxy
{
	pid_t		pid;
	int			ctl;			/* the write end of the control pipe */
	int			port;			/* where the library connects */
} fproxy;

/* a socket to the server a check connection reaches (its Unix socket or TCP) */
static inline int
fp_connect_upstream(const char *host, const char *port)
{
	int			fd = -1;

	if (host[0] == '/')
	{
		struct sockaddr_un sa = {0};

		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.%s", host, port);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
		{
			close(fd);
			fd = -1;
		}
	}
	else
	{
		struct addrinfo hints = {0},
				   *ai = NULL;

		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, port, &hints, &ai) == 0)
		{
			fd = socket(ai->ai_family, SOCK_STREAM, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
			{
				close(fd);
				fd = -1;
			}
			freeaddrinfo(ai);
		}
	}
	return fd;
}

/* write all of buf, or give up (the peer is gone) */
static inline int
fp_write_all(int fd, const char *buf, ssize_t n)
{
	while (n > 0)
	{
		ssize_t		w = write(fd, buf, n);

		if (w <= 0)
			return -1;
		buf += w;
		n -= w;
	}
	return 0;
}

/* the proxy's loop, in the child */
static inline void
fp_run(int lfd, int ctl, const char *host, const char *port)
{
	int			a[FP_MAXPAIRS],
				b[FP_MAXPAIRS],
				held[FP_MAXPAIRS];
	int			npairs = 0,
				nheld = 0,
				i;
	char		mode = FP_NORMAL;
	static char buf[65536];

	signal(SIGPIPE, SIG_IGN);
	for (;;)
	{
		struct pollfd fds[2 + 2 * FP_MAXPAIRS];
		int			n = 0;

		fds[n].fd = ctl;
		fds[n++].events = POLLIN;
		fds[n].fd = lfd;
		fds[n++].events = POLLIN;
		if (mode != FP_BLACKHOLE)
			for (i = 0; i < npairs; i++)
			{
				fds[n].fd = a[i];
				fds[n++].events = POLLIN;
				fds[n].fd = b[i];
				fds[n++].events = POLLIN;
			}
		if (poll(fds, n, 1000) < 0)
			continue;
		if (fds[0].revents)
		{
			char		cmd;

			if (read(ctl, &cmd, 1) != 1 || cmd == FP_QUIT)
				_exit(0);
			if (cmd == FP_CUT || (mode == FP_BLACKHOLE && cmd != FP_BLACKHOLE))
			{
				/* a blackhole's end: the connections it swallowed are reset */
				for (i = 0; i < nheld; i++)
					close(held[i]);
				nheld = 0;
			}
			if (cmd == FP_CUT)
			{
				for (i = 0; i < npairs; i++)
				{
					close(a[i]);
					close(b[i]);
				}
				npairs = 0;
			}
			else
				mode = cmd;
			continue;
		}
		if (fds[1].revents)
		{
			int			c = accept(lfd, NULL, NULL);
			int			u;

			if (c < 0)
				continue;
			if (mode == FP_BLACKHOLE && nheld < FP_MAXPAIRS)
				held[nheld++] = c;
			else if (mode == FP_BLACKHOLE || npairs == FP_MAXPAIRS ||
					 (u = fp_connect_upstream(host, port)) < 0)
				close(c);
			else
			{
				a[npairs] = c;
				b[npairs++] = u;
			}
			continue;
		}
		for (i = 2; i < n; i++)
		{
			int			pair = (i - 2) / 2;
			int			from = fds[i].fd,
						to = from == a[pair] ? b[pair] : a[pair];
			ssize_t		r;

			if (!fds[i].revents)
				continue;
			r = read(from, buf, sizeof(buf));
			if (mode == FP_DELAY)
				usleep(100 * 1000);
			if (r <= 0 || fp_write_all(to, buf, r) != 0)
			{
				close(a[pair]);
				close(b[pair]);
				a[pair] = a[--npairs];
				b[pair] = b[npairs];
				break;			/* the poll set is out of date */
			}
		}
	}
}

/* start a proxy to the server that check is connected to */
static inline void
fproxy_start(fproxy *fp, PGconn *check)
{
	struct sockaddr_in addr = {0};
	socklen_t	len = sizeof(addr);
	int			lfd = socket(AF_INET, SOCK_STREAM, 0),
				pipefd[2];

	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0 ||
		getsockname(lfd, (struct sockaddr *) &addr, &len) != 0 || pipe(pipefd) != 0 ||
		fcntl(pipefd[1], F_SETFD, FD_CLOEXEC) != 0)
		tap_bail("fault proxy: cannot listen");
	fp->port = ntohs(addr.sin_port);
	fflush(stdout);
	fp->pid = fork();
	if (fp->pid < 0)
		tap_bail("fault proxy: cannot fork");
	if (fp->pid == 0)
	{
		close(pipefd[1]);
		fp_run(lfd, pipefd[0], PQhost(check), PQport(check));
		_exit(0);
	}
	close(pipefd[0]);
	close(lfd);
	fp->ctl = pipefd[1];
}

/* a conninfo through the proxy, as the check connection's user to its database */
static inline void
fproxy_conninfo(const fproxy *fp, PGconn *check, char *buf, size_t len)
{
	snprintf(buf, len, "host=127.0.0.1 port=%d user=%s dbname=%s password=%s sslmode=disable",
			 fp->port, PQuser(check), PQdb(check), PQpass(check) ? PQpass(check) : "");
}

/* tell the proxy to behave so (FP_*) */
static inline void
fproxy_mode(fproxy *fp, char cmd)
{
	if (write(fp->ctl, &cmd, 1) != 1)
		tap_bail("fault proxy: control pipe broken");
}

/*
 * Stop the proxy and wait for it.  Told, not only by closing the pipe: a
 * server restarted by a child of the test may hold a copy of its end.
 */
static inline void
fproxy_stop(fproxy *fp)
{
	fproxy_mode(fp, FP_QUIT);
	close(fp->ctl);
	waitpid(fp->pid, NULL, 0);
}

#endif							/* BM_TEST_FAULTPROXY_H */
