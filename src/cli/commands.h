/* The tool's commands. Each takes its own name as argv[0] and returns the
 * process exit status (CLI_EXIT_* in args.h). */
#ifndef SAFENIC_CLI_COMMANDS_H
#define SAFENIC_CLI_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_fwd(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_respond(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
int cmd_hugepages(int argc, char **argv);

/* Largest --batch: bursts stay on the stack of the datapath loops. */
#define CLI_MAX_BATCH 256
#define CLI_DEFAULT_BATCH 32

/* How many empty or full polls pass between clock reads in fwd and recv:
 * a clock read costs about as much as an empty poll, so every 16th keeps
 * its cost in the noise while timing stays well under a millisecond. */
#define CLI_POLLS_PER_CLOCK_READ 16

/* Default pool sizes (buffers of SN_POOL_DEFAULT_BUF_SIZE bytes), here
 * because `safenic hugepages` computes the commands' footprints from them.
 * gen: its transmit pool. fwd: the pool both devices receive into, enough
 * for both receive rings, both transmit rings and the bursts in between,
 * with the drivers' default ring sizes. */
#define GEN_DEFAULT_POOL 4096
#define FWD_DEFAULT_POOL 8192

/* Option-table rows the datapath commands share, so that their words and
 * limits are the same everywhere (struct arg_option, args.h). */
#define CLI_OPTION_BATCH(field)                                          \
	{ "batch", ARG_UINT, &(field), 1, CLI_MAX_BATCH, "N",            \
	  "frames per burst, 1..256", NULL }
/* The MTU as sn_dev_config takes it; the library refuses one the device
 * or its receive buffers cannot carry, naming the largest. */
#define CLI_OPTION_MTU(field)                                            \
	{ "mtu", ARG_UINT, &(field), 68, 65535, "N",                     \
	  "the MTU: frames of up to N + 14 bytes are received and sent; "  \
	  "longer ones received are dropped and counted (rx_errors), "     \
	  "none are sent", NULL }
#define CLI_OPTION_JSON(field)                                           \
	{ "json", ARG_FLAG, &(field), 0, 0, NULL,                        \
	  "print one JSON object a second and a final one (JSON Lines) "  \
	  "instead of rate lines; other output goes to stderr", NULL }
#define CLI_OPTION_UNSAFE(field)                                         \
	{ "unsafe", ARG_FLAG, &(field), 0, 0, NULL,                      \
	  "drive the device without the IOMMU (DMA NOT fenced)", NULL }
/* Words in the order of enum sn_mem_kind (the target is its index). */
#define CLI_OPTION_MEMORY(field)                                         \
	{ "memory", ARG_CHOICE, &(field), 0, 0, "auto|hugetlb|thp|4k",   \
	  "where DMA memory comes from: hugetlb (reserved huge pages), "  \
	  "thp (transparent huge pages), 4k (plain pages: the IOMMU's "   \
	  "IOTLB thrashes); auto: hugetlb while free ones exist, else "   \
	  "thp, else 4k. --unsafe takes hugetlb only", NULL }
#define CLI_OPTION_VERBOSE(field)                                        \
	{ "verbose", ARG_FLAG, &(field), 0, 0, NULL,                     \
	  "also print the library's notes", NULL }

#endif
