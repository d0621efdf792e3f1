/* A minimal program on the installed safenic library, built with
 *
 *     cc count.c $(pkg-config --cflags --libs safenic) -o count
 *
 * Without arguments it lists the network devices of this machine and the
 * safenic driver for each. With a PCI address it opens that device (bound
 * to vfio-pci) and counts the frames it receives for a few seconds.
 *
 *     ./count
 *     ./count 0000:03:00.0 5
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <safenic/safenic.h>

static void print_device(const struct sn_pci_info *info, void *user)
{
	unsigned *count = user;

	printf("%s %04x:%04x group %d, kernel driver %s, safenic driver %s\n",
	       info->addr, info->vendor, info->device, info->iommu_group,
	       info->kernel_driver[0] ? info->kernel_driver : "none",
	       info->safenic_driver ? info->safenic_driver : "none");
	(*count)++;
}

static int list_devices(void)
{
	struct sn_error err;
	unsigned count = 0;

	if (sn_pci_list_net(print_device, &count, &err) < 0) {
		fprintf(stderr, "count: %s\n", err.msg);
		return 1;
	}
	printf("%u network device%s\n", count, count == 1 ? "" : "s");
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_frames(const char *addr, double seconds)
{
	struct sn_ctx_config cfg = { 0 };
	struct sn_error err;
	struct sn_ctx *ctx = sn_ctx_create(&cfg, &err);
	struct sn_pkt *pkts[32];
	struct sn_dev *dev;
	unsigned long long frames = 0, bytes = 0;
	double end;

	if (!ctx) {
		fprintf(stderr, "count: %s\n", err.msg);
		return 1;
	}
	dev = sn_dev_open(ctx, addr, NULL, &err);
	if (!dev) {
		fprintf(stderr, "count: cannot open %s: %s\n", addr, err.msg);
		sn_ctx_destroy(ctx);
		return 1;
	}
	for (end = now_s() + seconds; now_s() < end;) {
		uint16_t n = sn_rx_burst(dev, 0, pkts, 32), i;

		for (i = 0; i < n; i++)
			bytes += pkts[i]->len;
		frames += n;
		sn_pkt_free_bulk(pkts, n);
	}
	printf("%s (%s): %llu frames, %llu bytes in %.0f s\n", addr,
	       sn_dev_driver_name(dev), frames, bytes, seconds);
	sn_ctx_destroy(ctx);   /* closes the device too */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return list_devices();
	return count_frames(argv[1], argc > 2 ? atof(argv[2]) : 5.0);
}
