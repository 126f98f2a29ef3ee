/* bench/net's packet source, built by the bench itself:
 *   tapblast write TAPNAME SECONDS SIZE   create TAPNAME and write() frames
 *                                         into it as fast as one core can
 *                                         (the host limit); prints the count
 *   tapblast inject IFNAME SECONDS SIZE   send frames out of IFNAME with an
 *                                         AF_PACKET socket (towards whatever
 *                                         reads that tap); prints the count
 * Frames are broadcast Ethernet with a local source MAC and ethertype
 * 0x88b5 (local experimental), so no stack on the path answers them. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned char frame[9000] = { 0 };
	unsigned long long sent = 0;
	double end;
	int fd, size;

	if (argc != 5) {
		fprintf(stderr, "usage: tapblast write|inject IFNAME SECONDS SIZE\n");
		return 2;
	}
	size = atoi(argv[4]);
	if (size < 60 || size > (int)sizeof(frame))
		return 2;
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	if (!strcmp(argv[1], "write")) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

		fd = open("/dev/net/tun", O_RDWR);
		strncpy(ifr.ifr_name, argv[2], IFNAMSIZ - 1);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
			perror("tap");
			return 1;
		}
		/* Up, so the kernel takes the frames in (and drops them). */
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		ioctl(s, SIOCGIFFLAGS, &ifr);
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
		end = now() + atof(argv[3]);
		while (now() < end)
			for (int i = 0; i < 256; i++)
				if (write(fd, frame, (size_t)size) == size)
					sent++;
	} else {
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };

		fd = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
		sll.sll_ifindex = (int)if_nametoindex(argv[2]);
		if (fd < 0 || !sll.sll_ifindex) {
			perror("packet socket");
			return 1;
		}
		memset(sll.sll_addr, 0xff, 6);
		end = now() + atof(argv[3]);
		while (now() < end)
			for (int i = 0; i < 256; i++)
				if (sendto(fd, frame, (size_t)size, 0, (struct sockaddr *)&sll,
					   sizeof(sll)) == size)
					sent++;
	}
	printf("%llu\n", sent);
	return 0;
}
