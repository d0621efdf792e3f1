/* `safenic bind DEV` and `safenic unbind DEV`: hand a PCI device to
 * vfio-pci, and give it back to its kernel driver, as README's manual
 * steps do:
 *
 *   bind:   modprobe vfio-pci (when its driver directory is missing);
 *           echo vfio-pci > /sys/bus/pci/devices/DEV/driver_override;
 *           echo DEV > /sys/bus/pci/devices/DEV/driver/unbind;
 *           echo DEV > /sys/bus/pci/drivers_probe;
 *           with --user: chown USER /dev/vfio/GROUP
 *   unbind: echo > .../driver_override; echo DEV > .../driver/unbind;
 *           echo DEV > /sys/bus/pci/drivers_probe
 *
 * bind refuses a device that the kernel is using for networking (an
 * interface that is up, has addresses or carries routes) unless --force:
 * taking it away would cut a live connection, perhaps the one the user is
 * typing over. unbind refuses a device another process holds: vfio-pci
 * would block the unbind until that process let go.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "hugepages.h"
#include "pcibind.h"
#include "report.h"
#include "session.h"

#define REASON_LEN 1024
/* devtmpfs creates /dev/vfio/N shortly after the bind. */
#define DEVNODE_WAIT_NS (2 * NS_PER_SEC)

__attribute__((format(printf, 2, 3)))
static void bind_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "safenic %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- checks ----------------------------------------------------------- */

/* The device's addresses of ifname, as " 10.0.0.1 fe80::1" in out. */
static int iface_addresses(const char *ifname, char *out, size_t len)
{
	struct ifaddrs *list, *ifa;
	int count = 0;

	out[0] = '\0';
	if (getifaddrs(&list) != 0)
		return 0;
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		char text[INET6_ADDRSTRLEN];
		const void *raw;
		size_t used = strlen(out);

		if (!ifa->ifa_addr || strcmp(ifa->ifa_name, ifname) != 0)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET)
			raw = &((const struct sockaddr_in *)(const void *)
				ifa->ifa_addr)->sin_addr;
		else if (ifa->ifa_addr->sa_family == AF_INET6)
			raw = &((const struct sockaddr_in6 *)(const void *)
				ifa->ifa_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(ifa->ifa_addr->sa_family, raw, text,
			       sizeof(text)))
			continue;
		if (used + strlen(text) + 6 < len)
			snprintf(out + used, len - used, " %s", text);
		count++;
	}
	freeifaddrs(list);
	return count;
}

/* Why the kernel is still using ifname, as "eth0 is up, has addresses
 * 10.0.0.1, carries routes 10.0.0.0/24"; false when it is idle. */
static bool iface_in_use(const char *ifname, char *out, size_t len)
{
	char addrs[300], routes[300];
	bool up = pb_iface_up(&SYSROOT_REAL, ifname);
	int naddrs = iface_addresses(ifname, addrs, sizeof(addrs));
	int nroutes = pb_iface_routes(&SYSROOT_REAL, ifname, routes,
				      sizeof(routes));
	size_t used;

	if (!up && naddrs == 0 && nroutes == 0)
		return false;
	snprintf(out, len, "interface %.63s", ifname);
	used = strlen(out);
	if (up)
		used += (size_t)snprintf(out + used, len - used, " is up");
	if (naddrs && used < len)
		used += (size_t)snprintf(out + used, len - used, "%s has "
					 "addresses%s", up ? "," : "", addrs);
	if (nroutes && used < len)
		snprintf(out + used, len - used, "%s carries routes%s",
			 up || naddrs ? "," : "", routes);
	return true;
}

/* Every interface of the device that is in use, joined with "; ". Returns
 * the first such interface's name in first (for the fix), or "". */
static bool device_in_use(const char *addr, char *out, size_t len,
			  char first[PB_NAME_LEN])
{
	char names[PB_MAX_IFACES][PB_NAME_LEN], why[REASON_LEN / 2];
	int n = pb_interfaces(&SYSROOT_REAL, addr, names, PB_MAX_IFACES), i;

	out[0] = '\0';
	first[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t used = strlen(out);

		if (!iface_in_use(names[i], why, sizeof(why)))
			continue;
		if (!first[0])
			snprintf(first, PB_NAME_LEN, "%.63s", names[i]);
		snprintf(out + used, len - used, "%s%s", used ? "; " : "", why);
	}
	return first[0] != '\0';
}

static bool need_root(const char *cmd)
{
	if (geteuid() == 0)
		return true;
	bind_error(cmd, "needs root: it writes to /sys/bus/pci and changes "
		   "/dev/vfio; run it with sudo");
	return false;
}

static bool need_device(const char *cmd, const char *addr)
{
	if (pb_device_exists(&SYSROOT_REAL, addr))
		return true;
	bind_error(cmd, "there is no PCI device %s: 'safenic devices' lists "
		   "the network devices ('lspci -D' all of them)", addr);
	return false;
}

/* ---- bind ------------------------------------------------------------- */

static int run_modprobe(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = { (char *)"modprobe", (char *)"vfio-pci", NULL };

		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static bool vfio_driver_loaded(void)
{
	return access("/sys/bus/pci/drivers/vfio-pci", F_OK) == 0;
}

static int load_vfio_pci(void)
{
	if (vfio_driver_loaded())
		return 0;
	if (run_modprobe() == 0 && vfio_driver_loaded())
		return 0;
	bind_error("bind", "the vfio-pci driver is not available and "
		   "'modprobe vfio-pci' did not load it: install the kernel's "
		   "modules (vfio-pci is in the linux-image package) or build "
		   "the kernel with CONFIG_VFIO_PCI");
	return -1;
}

/* The three sysfs writes of a bind; errors are judged by the result. */
static int move_to_vfio(const char *addr, const char *driver)
{
	char path[128];
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 addr);
	rc = pb_sysfs_write(&SYSROOT_REAL, path, "vfio-pci");
	if (rc < 0) {
		bind_error("bind", "cannot write %s: %s (the kernel needs "
			   "driver_override, Linux 3.16 or later)", path,
			   strerror(-rc));
		return -1;
	}
	if (driver[0]) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/"
			 "unbind", addr);
		rc = pb_sysfs_write(&SYSROOT_REAL, path, addr);
		if (rc < 0) {
			bind_error("bind", "cannot unbind %s from %s: %s", addr,
				   driver, strerror(-rc));
			return -1;
		}
	}
	/* Fails with EINVAL or ENODEV when no driver took it; the driver
	 * link below is what counts. */
	pb_sysfs_write(&SYSROOT_REAL, "/sys/bus/pci/drivers_probe", addr);
	return 0;
}

static bool wait_for_devnode(const char *path)
{
	uint64_t deadline = clock_now_ns() + DEVNODE_WAIT_NS;

	while (access(path, F_OK) != 0) {
		if (clock_now_ns() >= deadline)
			return false;
		session_sleep_ns(NS_PER_SEC / 50);
	}
	return true;
}

/* The largest DMA footprint of any command with default options: what a
 * user's memlock limit must cover (VFIO counts pinned pages there). */
static uint64_t memlock_need(void)
{
	static const char *const cmds[] = { "gen", "fwd", "recv", "dump",
					    "respond" };
	uint64_t most = 0, bytes;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		bytes = hp_command_bytes(cmds[i], HP_VIRTIO, HP_PAGE_2M);
		if (bytes > most)
			most = bytes;
		bytes = hp_command_bytes(cmds[i], HP_INTEL, HP_PAGE_2M);
		if (bytes > most)
			most = bytes;
	}
	return most;
}

static int give_to_user(const char *devnode, const char *user, uid_t uid,
			gid_t gid)
{
	uint64_t need = memlock_need();
	char size[32];

	if (chown(devnode, uid, gid) != 0) {
		bind_error("bind", "cannot give %s to %s: %s", devnode, user,
			   strerror(errno));
		return -1;
	}
	report_format_size(need, size, sizeof(size));
	printf("%s now belongs to user %s (uid %u); until the next bind or "
	       "reboot.\n", devnode, user, (unsigned)uid);
	printf("%s also needs a memlock limit of at least %s (the DMA memory "
	       "of safenic's largest default run,\nsee 'safenic hugepages'): "
	       "'ulimit -l %llu' in the shell that runs safenic, or the line\n"
	       "'%s - memlock %llu' in /etc/security/limits.conf (or "
	       "'unlimited').\n", user, size,
	       (unsigned long long)(need >> 10), user,
	       (unsigned long long)(need >> 10));
	return 0;
}

struct bind_options {
	bool force;
	const char *user;
};

static int bind_checks(const char *addr, const struct bind_options *o,
		       const char *driver)
{
	char reasons[REASON_LEN], iface[PB_NAME_LEN], others[256];

	if (pb_iommu_group(&SYSROOT_REAL, addr) < 0) {
		bind_error("bind", "%s has no IOMMU group: the IOMMU is off, so "
			   "vfio-pci cannot take it. Boot with intel_iommu=on "
			   "(or amd_iommu=on) and VT-d/AMD-Vi enabled in the "
			   "firmware; or, on a disposable machine, leave the "
			   "device without a driver and use --unsafe", addr);
		return -1;
	}
	if (driver[0] && strcmp(driver, "vfio-pci") != 0 &&
	    device_in_use(addr, reasons, sizeof(reasons), iface)) {
		if (!o->force) {
			bind_error("bind", "refusing to take %s from %s: %s; take "
				   "it down first ('ip link set %s down; ip "
				   "addr flush dev %s'), or use --force",
				   addr, driver, reasons, iface, iface);
			return -1;
		}
		fprintf(stderr, "safenic bind: warning: --force: taking %s from "
			"%s although %s\n", addr, driver, reasons);
	}
	if (pb_group_blockers(&SYSROOT_REAL, addr, others, sizeof(others)))
		fprintf(stderr, "safenic bind: warning: IOMMU group %d also "
			"holds devices bound to other drivers:%s; safenic can "
			"open none of the group until they are bound to "
			"vfio-pci too (safenic bind) or unbound\n",
			pb_iommu_group(&SYSROOT_REAL, addr), others);
	return 0;
}

static int do_bind(const char *addr, const struct bind_options *o, uid_t uid,
		   gid_t gid)
{
	char driver[PB_NAME_LEN], now[PB_NAME_LEN], devnode[64];
	int group;

	if (!need_device("bind", addr) || !need_root("bind"))
		return CLI_EXIT_FAILURE;
	pb_driver(&SYSROOT_REAL, addr, driver);
	if (bind_checks(addr, o, driver) < 0)
		return CLI_EXIT_FAILURE;
	group = pb_iommu_group(&SYSROOT_REAL, addr);
	snprintf(devnode, sizeof(devnode), "/dev/vfio/%d", group);
	if (strcmp(driver, "vfio-pci") == 0) {
		printf("%s: already bound to vfio-pci; IOMMU group %d, %s\n",
		       addr, group, devnode);
	} else {
		if (load_vfio_pci() < 0 || move_to_vfio(addr, driver) < 0)
			return CLI_EXIT_FAILURE;
		pb_driver(&SYSROOT_REAL, addr, now);
		if (strcmp(now, "vfio-pci") != 0) {
			bind_error("bind", "%s did not bind to vfio-pci (its "
				   "driver is now %s): see 'dmesg | tail' for "
				   "the kernel's reason", addr,
				   now[0] ? now : "none");
			return CLI_EXIT_FAILURE;
		}
		printf("%s: bound to vfio-pci (was %s); IOMMU group %d, %s\n",
		       addr, driver[0] ? driver : "no driver", group, devnode);
	}
	if (!wait_for_devnode(devnode)) {
		bind_error("bind", "%s did not appear: is devtmpfs (or udev) "
			   "running? 'mknod %s c MAJOR MINOR' with the numbers "
			   "of /sys/class/vfio/%d/dev makes it", devnode,
			   devnode, group);
		return CLI_EXIT_FAILURE;
	}
	if (o->user && give_to_user(devnode, o->user, uid, gid) < 0)
		return CLI_EXIT_FAILURE;
	fflush(stdout);
	return CLI_EXIT_OK;
}

int cmd_bind(int argc, char **argv)
{
	struct bind_options o = { 0 };
	const struct arg_option options[] = {
		{ "force", ARG_FLAG, &o.force, 0, 0, NULL,
		  "bind even when the device's network interface is up, has "
		  "addresses or carries routes (cuts its connections)", NULL },
		{ "user", ARG_STRING, &o.user, 0, 0, "NAME",
		  "give the device's /dev/vfio/N to this user (a name from "
		  "/etc/passwd or a numeric uid), so it can run safenic "
		  "without root", "root keeps it" },
	};
	const struct arg_command command = {
		.name = "bind",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Hand the PCI device DEV to vfio-pci, so that safenic "
			"can drive it behind the\nIOMMU (loads vfio-pci when "
			"needed). Refuses a device whose kernel network\n"
			"interface is up, has addresses or carries routes, "
			"unless --force. Needs root.\n'safenic unbind DEV' "
			"gives it back.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	char addr[16], message[ARG_ERROR_LEN];
	uid_t uid = 0;
	gid_t gid = 0;
	int status;

	if (!session_parse_one_pci(&command, argc, argv, addr, &status))
		return status;
	if (o.user && pb_lookup_user(&SYSROOT_REAL, o.user, &uid, &gid) < 0) {
		snprintf(message, sizeof(message), "option --user: no user "
			 "'%.40s' in /etc/passwd (create it, or give a numeric "
			 "uid)", o.user);
		return args_usage_error(&command, message);
	}
	return do_bind(addr, &o, uid, gid);
}

/* ---- unbind ----------------------------------------------------------- */

/* vfio-pci blocks an unbind until every user of the device let go:
 * refuse instead of hanging. */
static int unbind_check_free(const char *addr)
{
	char path[64], users[256];
	int group = pb_iommu_group(&SYSROOT_REAL, addr), fd;

	if (group < 0)
		return 0;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EBUSY)
		return 0;
	pb_group_users(&SYSROOT_REAL, group, users, sizeof(users));
	bind_error("unbind", "%s is in use by another process%s%s: stop that "
		   "process first (unbinding would wait for it)", addr,
		   users[0] ? ":" : "", users);
	return -1;
}

static void report_unbound(const char *addr)
{
	char driver[PB_NAME_LEN], names[PB_MAX_IFACES][PB_NAME_LEN];
	int n;

	pb_driver(&SYSROOT_REAL, addr, driver);
	if (!driver[0]) {
		printf("%s: unbound from vfio-pci; no kernel driver took it "
		       "(load the driver's module, e.g. modprobe igb, then "
		       "'echo %s > /sys/bus/pci/drivers_probe')\n", addr, addr);
		return;
	}
	n = pb_interfaces(&SYSROOT_REAL, addr, names, PB_MAX_IFACES);
	printf("%s: unbound from vfio-pci; now bound to %s%s%s%s\n", addr,
	       driver, n ? " (interface " : "", n ? names[0] : "",
	       n ? ")" : "");
}

static int do_unbind(const char *addr)
{
	char driver[PB_NAME_LEN], override[PB_NAME_LEN], path[128];
	int rc;

	if (!need_device("unbind", addr) || !need_root("unbind"))
		return CLI_EXIT_FAILURE;
	pb_driver(&SYSROOT_REAL, addr, driver);
	pb_driver_override(&SYSROOT_REAL, addr, override);
	if (driver[0] && strcmp(driver, "vfio-pci") != 0) {
		printf("%s: not bound to vfio-pci (its driver is %s); nothing "
		       "to do\n", addr, driver);
		return CLI_EXIT_OK;
	}
	if (strcmp(driver, "vfio-pci") == 0 && unbind_check_free(addr) < 0)
		return CLI_EXIT_FAILURE;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 addr);
	if (override[0] &&
	    (rc = pb_sysfs_write(&SYSROOT_REAL, path, "\n")) < 0) {
		bind_error("unbind", "cannot clear %s: %s", path, strerror(-rc));
		return CLI_EXIT_FAILURE;
	}
	if (driver[0]) {
		rc = pb_sysfs_write(&SYSROOT_REAL,
				    "/sys/bus/pci/drivers/vfio-pci/unbind", addr);
		if (rc < 0) {
			bind_error("unbind", "cannot unbind %s from vfio-pci: %s",
				   addr, strerror(-rc));
			return CLI_EXIT_FAILURE;
		}
	}
	pb_sysfs_write(&SYSROOT_REAL, "/sys/bus/pci/drivers_probe", addr);
	report_unbound(addr);
	fflush(stdout);
	return CLI_EXIT_OK;
}

int cmd_unbind(int argc, char **argv)
{
	const struct arg_command command = {
		.name = "unbind",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Give the PCI device DEV back from vfio-pci to its "
			"kernel driver: clears its\ndriver_override and lets "
			"the kernel probe it again. Refuses while a process\n"
			"still uses it. Needs root.",
	};
	char addr[16];
	int status;

	if (!session_parse_one_pci(&command, argc, argv, addr, &status))
		return status;
	return do_unbind(addr);
}
