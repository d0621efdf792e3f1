/* The control path shared by gen, fwd and recv (see session.h). */
#define _POSIX_C_SOURCE 200809L

#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pcibind.h"
#include "report.h"

/* How long to wait for a link after opening a device: long enough for
 * auto-negotiation on a real port (typically 1-3 s). */
#define LINK_WAIT_NS (5 * NS_PER_SEC)
#define LINK_POLL_NS (10 * UINT64_C(1000000))

/* The tool's only globals: a signal handler has no other way to reach
 * the loops, or the context. */
static volatile sig_atomic_t stop_signal;
static struct sn_ctx *volatile crash_ctx;

static void on_stop_signal(int signo)
{
	stop_signal = signo;
}

bool session_stop_requested(void)
{
	return stop_signal != 0;
}

/* Signals that end a run the orderly way: the loop stops, the summary is
 * printed, the devices are closed. SIGHUP (the terminal went away) is one
 * of them: its default action would end the process with a device still
 * running in unsafe mode. No SA_RESTART: a sleeping loop wakes up at once. */
static int install_signal_handlers(void)
{
	static const int stopping[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(stopping) / sizeof(stopping[0]); i++)
		if (sigaction(stopping[i], &sa, NULL) != 0)
			return -errno;
	return 0;
}

/* Without an IOMMU nothing stops a device's DMA when the process dies:
 * stop it before the crash completes, then die of the same signal. */
static void on_fatal_signal(int signo)
{
	if (crash_ctx)
		sn_ctx_emergency_stop(crash_ctx);
	raise(signo);   /* SA_RESETHAND restored the default action */
}

/* Every signal whose default action ends the process at once and that
 * can be caught (SIGKILL cannot: with it, unsafe mode leaves the device
 * running, which the banner warns of). SIGQUIT dumps core like a crash. */
static int install_crash_handlers(struct sn_ctx *ctx)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
				     SIGQUIT, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ };
	struct sigaction sa;
	size_t i;

	crash_ctx = ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		if (sigaction(fatal[i], &sa, NULL) != 0)
			return -errno;
	return 0;
}

void session_sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / NS_PER_SEC),
		.tv_nsec = (long)(ns % NS_PER_SEC),
	};

	nanosleep(&ts, NULL);
}

void session_error(const struct session *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "safenic %s: ", s->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The library's only voice: warnings always, notes with --verbose. */
static void session_log(void *user, enum sn_log_level level, const char *msg)
{
	const struct session *s = user;

	if (level == SN_LOG_WARN)
		fprintf(stderr, "safenic: warning: %s\n", msg);
	else if (s->verbose)
		fprintf(stderr, "safenic: %s\n", msg);
}

static void print_unsafe_banner(void)
{
	fputs("safenic: ****************************************************"
	      "********\n"
	      "safenic: WARNING: --unsafe: device DMA is NOT fenced by the "
	      "IOMMU.\n"
	      "safenic: The NIC can read and write ANY physical memory of "
	      "this machine:\n"
	      "safenic: a faulty device or a driver bug can corrupt the "
	      "kernel and other\n"
	      "safenic: processes, or leak their data onto the wire. Use it "
	      "only on a\n"
	      "safenic: disposable test machine that has no IOMMU.\n"
	      "safenic: ****************************************************"
	      "********\n", stderr);
}

int session_start(struct session *s, const char *cmd, bool unsafe,
		  enum sn_mem_kind memory, bool verbose, bool json)
{
	struct sn_ctx_config cfg;
	struct sn_error err;

	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->verbose = verbose;
	s->unsafe = unsafe;
	s->json = json;
	s->info = json ? stderr : stdout;
	memset(&cfg, 0, sizeof(cfg));
	cfg.unsafe_no_iommu = unsafe;
	cfg.memory = memory;
	cfg.log = session_log;
	cfg.log_user = s;
	if (unsafe)
		print_unsafe_banner();
	if (install_signal_handlers() < 0) {
		session_error(s, "cannot install signal handlers: %s", strerror(errno));
		return -1;
	}
	s->ctx = sn_ctx_create(&cfg, &err);
	if (!s->ctx) {
		session_error(s, "cannot set up DMA: %s", err.msg);
		return -1;
	}
	/* With VFIO the kernel resets the devices when the process dies;
	 * without it, a crash must stop them first. */
	if (unsafe && install_crash_handlers(s->ctx) < 0) {
		session_error(s, "cannot install crash handlers (%s): refusing to run "
			      "--unsafe without them", strerror(errno));
		session_end(s);
		return -1;
	}
	return 0;
}

void session_end(struct session *s)
{
	crash_ctx = NULL;
	if (s->ctx)
		sn_ctx_destroy(s->ctx);
	s->ctx = NULL;
}

struct sn_mempool *session_create_pool(struct session *s, uint64_t bufs,
				       unsigned flags)
{
	struct sn_error err;
	struct sn_mempool *pool;

	pool = sn_mempool_create(s->ctx, (uint32_t)bufs,
				 SN_POOL_DEFAULT_BUF_SIZE, flags, &err);
	if (!pool)
		session_error(s, "cannot create a pool of %" PRIu64
			      " buffers: %s", bufs, err.msg);
	return pool;
}

/* Polls the link until it is up, the wait is over, or a signal came. */
static int wait_for_link(struct sn_dev *dev, struct sn_link *link)
{
	uint64_t deadline = clock_now_ns() + LINK_WAIT_NS;
	int rc;

	while ((rc = sn_dev_link(dev, link)) == 0 && !link->up &&
	       clock_now_ns() < deadline && !session_stop_requested())
		session_sleep_ns(LINK_POLL_NS);
	return rc;
}

static void print_device(FILE *out, struct sn_dev *dev, int link_rc,
			 const struct sn_link *link)
{
	uint8_t mac[6];
	char mac_text[ARG_MAC_TEXT_LEN];

	sn_dev_mac(dev, mac);
	arg_format_mac(mac, mac_text);
	fprintf(out, "%s: driver %s, MAC %s, ", sn_dev_pci_addr(dev),
		sn_dev_driver_name(dev), mac_text);
	if (link_rc < 0)
		fprintf(out, "link state unknown (%s)\n", strerror(-link_rc));
	else if (!link->up)
		fprintf(out, "link DOWN after %" PRIu64 " s (continuing; check "
			"the cable or the peer)\n", LINK_WAIT_NS / NS_PER_SEC);
	else if (link->speed_mbps)
		fprintf(out, "link up, %" PRIu32 " Mbit/s\n", link->speed_mbps);
	else
		fprintf(out, "link up\n");
	/* What the driver chose at start-up (virtio-net: the ring layout). */
	fprintf(out, "%s: model %s\n", sn_dev_pci_addr(dev), sn_dev_model(dev));
	fflush(out);
}

static bool group_opened(const struct session *s, int group)
{
	unsigned i;

	for (i = 0; i < s->group_count; i++)
		if (s->groups[i] == group)
			return true;
	return false;
}

/* " (interface eth0)" for a device a kernel network driver holds. */
static void describe_interfaces(const char *addr, char *out, size_t len)
{
	char names[PB_MAX_IFACES][PB_NAME_LEN];
	int n = pb_interfaces(&SYSROOT_REAL, addr, names, PB_MAX_IFACES);

	out[0] = '\0';
	if (n > 0)
		snprintf(out, len, " (interface %s%s)", names[0],
			 n > 1 ? " and others" : "");
}

/* Opening the group device tells whether another process holds it
 * (VFIO lets one process at a time have a group) and whether we may. */
static int check_group_free(const struct session *s, const char *addr,
			    int group)
{
	char path[64], users[256];
	int fd, e;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	e = errno;
	if (e == EBUSY) {
		pb_group_users(&SYSROOT_REAL, group, users, sizeof(users));
		session_error(s, "cannot open %s: it is in use by another "
			      "process%s%s: stop that process first, or use "
			      "another device", addr, users[0] ? ":" : "",
			      users);
	} else if (e == EACCES || e == EPERM) {
		session_error(s, "cannot open %s: no permission to open %s: run "
			      "as root, or give the device to your user with "
			      "'sudo safenic bind %s --user $USER'", addr, path,
			      addr);
	} else if (e == ENOENT) {
		session_error(s, "cannot open %s: %s is missing although the "
			      "device is bound to vfio-pci: rebind it with "
			      "'safenic unbind %s; safenic bind %s'", addr, path,
			      addr, addr);
	} else {
		session_error(s, "cannot open %s: cannot open %s: %s", addr, path,
			      strerror(e));
	}
	return -1;
}

int session_check_dev(struct session *s, const char *addr)
{
	char driver[PB_NAME_LEN], ifaces[PB_NAME_LEN + 32];
	int group;

	if (session_is_xdp(addr))
		return 0;   /* a kernel interface: the library checks it */

	if (!pb_device_exists(&SYSROOT_REAL, addr)) {
		session_error(s, "cannot open %s: there is no PCI device at that "
			      "address: 'safenic devices' lists the network "
			      "devices ('lspci -D' all of them)", addr);
		return -1;
	}
	if (s->unsafe)
		return 0;   /* the library checks the sysfs route itself */
	group = pb_iommu_group(&SYSROOT_REAL, addr);
	if (group < 0) {
		session_error(s, "cannot open %s: it has no IOMMU group, the "
			      "IOMMU is off: boot with intel_iommu=on (or "
			      "amd_iommu=on) and VT-d/AMD-Vi enabled in the "
			      "firmware; or, on a disposable machine, use --unsafe "
			      "(device DMA is then not fenced)", addr);
		return -1;
	}
	pb_driver(&SYSROOT_REAL, addr, driver);
	if (strcmp(driver, "vfio-pci") != 0) {
		describe_interfaces(addr, ifaces, sizeof(ifaces));
		if (driver[0])
			session_error(s, "cannot open %s: it is bound to the "
				      "kernel driver %s%s, not vfio-pci: hand it "
				      "over with 'safenic bind %s' (as root)",
				      addr, driver, ifaces, addr);
		else
			session_error(s, "cannot open %s: it is not bound to "
				      "vfio-pci (no driver): 'safenic bind %s' "
				      "(as root)", addr, addr);
		return -1;
	}
	if (group_opened(s, group))
		return 0;   /* ours already (two devices of one group) */
	return check_group_free(s, addr, group);
}

struct sn_dev *session_open_dev(struct session *s, const char *addr,
				const struct sn_dev_config *cfg)
{
	struct sn_error err;
	struct sn_link link = { 0 };
	struct sn_dev *dev;
	int group, rc;

	if (session_check_dev(s, addr) < 0)
		return NULL;
	dev = sn_dev_open(s->ctx, addr, cfg, &err);
	if (!dev) {
		session_error(s, "cannot open %s: %s", addr, err.msg);
		return NULL;
	}
	group = pb_iommu_group(&SYSROOT_REAL, addr);
	if (group >= 0 && !group_opened(s, group) &&
	    s->group_count < SESSION_MAX_GROUPS)
		s->groups[s->group_count++] = group;
	rc = wait_for_link(dev, &link);
	print_device(s->info, dev, rc, &link);
	if (s->link_count < SESSION_MAX_DEVS)
		s->links[s->link_count++] = (struct session_link){
			.dev = dev, .known = rc == 0, .up = rc == 0 && link.up };
	return dev;
}

/* "hugetlb 2 MiB pages", "THP 2 MiB pages (9 of 9 units huge)", "4 KiB
 * pages", joined by " + " when a run holds more than one kind. */
static void format_memory_kinds(const struct sn_mem_info *info, char *out,
				size_t len)
{
	char page[32];
	size_t used = 0;

	out[0] = '\0';
	if (info->kinds & (1u << SN_MEM_HUGETLB)) {
		report_format_size(info->page_size, page, sizeof(page));
		used += (size_t)snprintf(out, len, "hugetlb %s pages", page);
	}
	if ((info->kinds & (1u << SN_MEM_THP)) && used < len)
		used += (size_t)snprintf(out + used, len - used,
					 "%sTHP 2 MiB pages (%u of %u units huge)",
					 used ? " + " : "",
					 info->thp_units - info->thp_small_units,
					 info->thp_units);
	if ((info->kinds & (1u << SN_MEM_4K)) && used < len)
		snprintf(out + used, len - used, "%s4 KiB pages", used ? " + " : "");
}

void session_report_memory(const struct session *s)
{
	struct sn_mem_info info;
	char kinds[128], total[32];

	sn_ctx_mem_info(s->ctx, &info);
	format_memory_kinds(&info, kinds, sizeof(kinds));
	report_format_size(info.bytes, total, sizeof(total));
	fprintf(s->info, "DMA memory: %s, %s in %u region%s spanning %u "
		"%s page%s\n", kinds[0] ? kinds : "none", total, info.regions,
		info.regions == 1 ? "" : "s", info.iommu_pages,
		info.unsafe ? "physical" : "IOMMU",
		info.iommu_pages == 1 ? "" : "s");
	fflush(s->info);
	if (info.small_pages)
		fputs("safenic: warning: some DMA memory is in 4 KiB pages: "
		      "the IOMMU's IOTLB will thrash and throughput will "
		      "suffer.\nsafenic: warning: reserve huge pages (echo 256 > "
		      "/proc/sys/vm/nr_hugepages) or turn on transparent huge "
		      "pages (echo madvise > "
		      "/sys/kernel/mm/transparent_hugepage/enabled), then run "
		      "again\n", stderr);
}

static const char *dev_state_advice(enum sn_dev_state state)
{
	switch (state) {
	case SN_DEV_NEEDS_RESET:
		return "the device reported a fatal error; run the command "
		       "again (opening a device resets it)";
	case SN_DEV_GONE:
		return "releasing it. Check that 'lspci' still lists it and "
		       "that it is bound to vfio-pci before running again";
	case SN_DEV_TX_STALLED:
		return "check the link (cable, peer, switch port) and run "
		       "again";
	case SN_DEV_OUT_OF_STEP:
		return "the device wrote what the driver never gave it; run "
		       "the command again (opening a device resets it)";
	case SN_DEV_OK:
	case SN_DEV_RECOVERED:
		break;
	}
	return "unexpected device state";
}

static struct session_link *find_link(struct session *s,
				      const struct sn_dev *dev)
{
	unsigned i;

	for (i = 0; i < s->link_count; i++)
		if (s->links[i].dev == dev)
			return &s->links[i];
	return NULL;
}

bool session_watch_link(struct session *s, struct sn_dev *dev)
{
	struct session_link *known = find_link(s, dev);
	struct sn_link link = { 0 };

	if (!known || sn_dev_link(dev, &link) < 0)
		return false;
	if (!known->known || known->up != link.up) {
		if (!link.up)
			fprintf(s->info, "%s: link down (frames sent meanwhile "
				"are lost; waiting for it to come back)\n",
				sn_dev_pci_addr(dev));
		else if (link.speed_mbps)
			fprintf(s->info, "%s: link up, %" PRIu32 " Mbit/s\n",
				sn_dev_pci_addr(dev), link.speed_mbps);
		else
			fprintf(s->info, "%s: link up\n", sn_dev_pci_addr(dev));
		fflush(s->info);
	}
	known->known = true;
	known->up = link.up;
	return !link.up;
}

/* One word per state, for rate lines and the SUMMARY status key. */
static const char *health_word(enum sn_dev_state state)
{
	switch (state) {
	case SN_DEV_OK: return "ok";
	case SN_DEV_RECOVERED: return "recovered";
	case SN_DEV_TX_STALLED: return "tx-stalled";
	case SN_DEV_OUT_OF_STEP: return "out-of-step";
	case SN_DEV_NEEDS_RESET: return "needs-reset";
	case SN_DEV_GONE: return "gone";
	}
	return "unknown";
}

struct health session_health(const struct session *s, const struct sn_stats *end,
			     const struct sn_stats *base)
{
	struct health h = { .status = health_word(s->health) };

	session_health_add(&h, end, base);
	return h;
}

void session_health_add(struct health *h, const struct sn_stats *end,
			const struct sn_stats *base)
{
	h->device_errors += end->device_errors - base->device_errors;
	h->queue_resets += end->queue_resets - base->queue_resets;
}

int session_check_health(struct session *s, struct sn_dev *dev)
{
	enum sn_dev_state state = sn_dev_check(dev);

	return session_judge_health(s, dev, state, sn_dev_check_message(dev));
}

int session_judge_health(struct session *s, struct sn_dev *dev,
			 enum sn_dev_state state, const char *message)
{
	bool link_down = false;

	/* A removed device's registers read all-ones: its link is noise. */
	if (state != SN_DEV_GONE)
		link_down = session_watch_link(s, dev);
	if (state == SN_DEV_OK || (state == SN_DEV_TX_STALLED && link_down))
		return 0;
	/* A recovery never hides what stopped the run. */
	if (state != SN_DEV_RECOVERED || s->health == SN_DEV_OK)
		s->health = state;
	/* The library fixed it (a queue re-armed): say so, and go on. */
	if (state == SN_DEV_RECOVERED) {
		fprintf(stderr, "safenic %s: warning: %s: %s; continuing\n",
			s->cmd, sn_dev_pci_addr(dev), message);
		return 0;
	}
	session_error(s, "stopping: %s: %s: %s", sn_dev_pci_addr(dev),
		      message, dev_state_advice(state));
	return -1;
}

struct sn_dev *session_removal_due(struct session *s, uint64_t now)
{
	if (now < s->removal_poll_ns)
		return NULL;
	s->removal_poll_ns = now + SESSION_REMOVAL_POLL_NS;
	for (unsigned i = 0; i < s->link_count; i++)
		if (sn_dev_removal_requested(s->links[i].dev))
			return s->links[i].dev;
	return NULL;
}

int session_poll_removal(struct session *s, uint64_t now)
{
	struct sn_dev *dev = session_removal_due(s, now);

	return dev ? session_check_health(s, dev) : 0;
}

/* A PCI address only: bind and unbind hand PCI devices to drivers. */
static bool parse_pci_only(const struct arg_command *cmd, const char *text,
			   char out[16], int *status)
{
	char message[ARG_ERROR_LEN];

	if (sn_pci_parse_addr(text, out) == 0)
		return true;
	snprintf(message, sizeof(message), "'%.40s' is not a PCI address "
		 "(expected DDDD:BB:DD.F like 0000:00:03.0, or BB:DD.F; "
		 "'safenic devices' lists them)", text);
	*status = args_usage_error(cmd, message);
	return false;
}

bool session_parse_pci_addr(const struct arg_command *cmd, const char *text,
			    char out[SESSION_DEV_LEN], int *status)
{
	char message[ARG_ERROR_LEN];

	if (sn_pci_parse_addr(text, out) == 0)
		return true;
	/* The library checks the spec's form and says what is wrong. */
	if (session_is_xdp(text) && strlen(text) < SESSION_DEV_LEN) {
		snprintf(out, SESSION_DEV_LEN, "%s", text);
		return true;
	}
	snprintf(message, sizeof(message), "'%.32s' is not a PCI address "
		 "(like 0000:00:03.0 or 00:03.0; 'safenic devices' lists them) "
		 "nor an AF_XDP device (xdp:IFNAME or xdp:IFNAME:QUEUE)", text);
	*status = args_usage_error(cmd, message);
	return false;
}

bool session_parse_one_dev(const struct arg_command *cmd, int argc,
			   char **argv, char addr[SESSION_DEV_LEN], int *status)
{
	const char *positional[ARGS_MAX_POSITIONAL];
	size_t npos;

	return args_parse_command(cmd, argc, argv, positional, &npos, status) &&
	       session_parse_pci_addr(cmd, positional[0], addr, status);
}

bool session_parse_one_pci(const struct arg_command *cmd, int argc,
			   char **argv, char addr[16], int *status)
{
	const char *positional[ARGS_MAX_POSITIONAL];
	size_t npos;

	return args_parse_command(cmd, argc, argv, positional, &npos, status) &&
	       parse_pci_only(cmd, positional[0], addr, status);
}

struct hw_counts session_hw_counts(const struct sn_stats *end,
				   const struct sn_stats *base)
{
	struct hw_counts hw = { .present = end->has_hw_counters };
	if (hw.present) {
		hw.rx_packets = end->hw_rx_packets - base->hw_rx_packets;
		hw.tx_packets = end->hw_tx_packets - base->hw_tx_packets;
	}
	return hw;
}
