/* `safenic devices`: the network-class PCI devices, and what safenic
 * would need to drive each. Reads sysfs only; opens nothing. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "safenic/safenic.h"

struct device_listing {
	unsigned count;
	unsigned without_iommu;
	unsigned to_bind;                /* supported, not on vfio-pci */
	char first_to_bind[16];
	bool first_to_bind_is_bound;     /* to some other kernel driver */
};

static void print_header(void)
{
	printf("%-13s %-9s %-6s %-14s %-12s %s\n", "ADDRESS", "ID",
	       "GROUP", "KERNEL-DRIVER", "SAFENIC", "MODEL");
}

static void note_device(struct device_listing *l,
			const struct sn_pci_info *info)
{
	if (info->iommu_group < 0)
		l->without_iommu++;
	if (info->safenic_driver &&
	    strcmp(info->kernel_driver, "vfio-pci") != 0 &&
	    l->to_bind++ == 0) {
		snprintf(l->first_to_bind, sizeof(l->first_to_bind), "%s",
			 info->addr);
		l->first_to_bind_is_bound = info->kernel_driver[0] != '\0';
	}
}

static void print_device(const struct sn_pci_info *info, void *user)
{
	struct device_listing *l = user;
	char id[16], group[16];

	if (l->count++ == 0)
		print_header();
	snprintf(id, sizeof(id), "%04x:%04x", info->vendor, info->device);
	if (info->iommu_group < 0)
		snprintf(group, sizeof(group), "none");
	else
		snprintf(group, sizeof(group), "%d", info->iommu_group);
	printf("%-13s %-9s %-6s %-14s %-12s %s\n", info->addr, id, group,
	       info->kernel_driver[0] ? info->kernel_driver : "-",
	       info->safenic_driver ? info->safenic_driver : "no",
	       info->model ? info->model : "-");
	note_device(l, info);
}

static void print_hints(const struct device_listing *l)
{
	const char *a = l->first_to_bind;

	if (l->to_bind) {
		printf("\nTo drive a device, bind it to vfio-pci (as root), "
		       "e.g. for %s:\n"
		       "  safenic bind %s [--user NAME]\n"
		       "or by hand:\n"
		       "  modprobe vfio-pci\n"
		       "  echo vfio-pci > /sys/bus/pci/devices/%s/driver_override\n",
		       a, a, a);
		if (l->first_to_bind_is_bound)
			printf("  echo %s > /sys/bus/pci/devices/%s/driver/unbind\n",
			       a, a);
		printf("  echo %s > /sys/bus/pci/drivers_probe\n", a);
	}
	if (l->without_iommu)
		printf("\nGROUP none: no IOMMU is active. Enable it "
		       "(intel_iommu=on or amd_iommu=on on the\nkernel command "
		       "line), or use --unsafe on a disposable machine (device "
		       "DMA is then\nnot fenced).\n");
}

static const struct arg_command devices_command = {
	.name = "devices",
	.positional = "",
	.description =
		"List the network-class PCI devices: address, vendor:device "
		"ID, IOMMU group,\nkernel driver, the safenic driver that "
		"supports it (or \"no\"), and its model.",
};

int cmd_devices(int argc, char **argv)
{
	const char *positional[ARGS_MAX_POSITIONAL];
	struct device_listing listing = { 0 };
	struct sn_error err;
	size_t npos;
	int status;

	if (!args_parse_command(&devices_command, argc, argv, positional, &npos,
				&status))
		return status;
	if (sn_pci_list_net(print_device, &listing, &err) < 0) {
		fprintf(stderr, "safenic devices: cannot list PCI devices: %s\n",
			err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (listing.count == 0)
		printf("No network-class PCI devices found.\n");
	print_hints(&listing);
	return CLI_EXIT_OK;
}
