/* igb: Intel 82576 (and I350/I210, whose start-up is the same for what we
 * use). Facts from the Intel 82576 GbE Controller Datasheet, rev 2.x,
 * whose section titles the comments below name, and from Linux's igb.
 * Advanced descriptors; the rings are run by ring.c. */
#define _GNU_SOURCE
#include <errno.h>

#include "error.h"
#include "intel.h"

/* Interrupt registers, for receive interrupts in MSI-X mode (82576
 * datasheet, "Interrupts" and "MSI-X"). ICR is read-to-clear but not a
 * counter: RW here, so the counter sweep leaves it alone. */
#define IGB_IRQ_GLOBALS(X, fam)                                               \
	X(fam, ICR, 0x000C0, RW, "Interrupt Cause Read")                     \
	X(fam, IMS, 0x000D0, RW, "Interrupt Mask Set/Read")                  \
	X(fam, GPIE, 0x01514, RW, "General Purpose Interrupt Enable")        \
	X(fam, EIMS, 0x01524, RW, "Extended Interrupt Mask Set/Read")        \
	X(fam, EIAC, 0x0152C, RW, "Extended Interrupt Auto Clear")           \
	X(fam, EIAM, 0x01530, RW, "Extended Interrupt Auto Mask")            \
	X(fam, EICR, 0x01580, RW, "Extended Interrupt Cause (write 1 clears)") \
	X(fam, IVAR_MISC, 0x01740, RW, "Interrupt Vector Allocation, other causes")

#define IGB_IRQ_QUEUES(X, fam)                                                \
	X(fam, EITR, 0x01680, 0x4, RW, "Extended Interrupt Throttle, per vector") \
	X(fam, IVAR, 0x01700, 0x4, RW, "Interrupt Vector Allocation, queues n and n+8")

/* Registers beyond the e1000 common set (intel.h). */
#define IGB_GLOBALS(X, fam)                                                   \
	SN_E1000_COMMON_GLOBALS(X, fam)                                      \
	IGB_IRQ_GLOBALS(X, fam)                                              \
	X(fam, CTRL_EXT, 0x00018, RW, "Extended Device Control")             \
	X(fam, MDIC, 0x00020, RW, "MDI Control")                             \
	X(fam, EIMC, 0x01528, WO, "Extended Interrupt Mask Clear")          \
	X(fam, RXCSUM, 0x05000, RW, "Receive Checksum Control")              \
	X(fam, RLPML, 0x05004, RW, "Receive Long Packet Maximum Length")     \
	X(fam, MRQC, 0x05818, RW, "Multiple Receive Queues Command")        \
	X(fam, RETA, 0x05C00, RW, "Redirection Table (32 registers)")       \
	X(fam, RSSRK, 0x05C80, RW, "RSS Random Key (10 registers)")

/* Queue registers at their home of 0xC000 / 0xE000, stride 0x40, where
 * all 16 queues of the 82576 sit (the 0x2800 / 0x3800 addresses are
 * aliases of queues 0-3 kept for the e1000's sake). */
#define IGB_QUEUES(X, fam)                                                    \
	X(fam, RDBAL, 0x0C000, 0x40, RW, "Rx Descriptor Base Low")           \
	X(fam, RDBAH, 0x0C004, 0x40, RW, "Rx Descriptor Base High")          \
	X(fam, RDLEN, 0x0C008, 0x40, RW, "Rx Descriptor Ring Length")        \
	X(fam, SRRCTL, 0x0C00C, 0x40, RW, "Split and Replication Rx Control") \
	X(fam, RDH, 0x0C010, 0x40, RW, "Rx Descriptor Head")                 \
	X(fam, RDT, 0x0C018, 0x40, RW, "Rx Descriptor Tail")                 \
	X(fam, RXDCTL, 0x0C028, 0x40, RW, "Rx Descriptor Control")           \
	X(fam, RQDPC, 0x0C030, 0x40, RC, "Receive Queue Drop Packet Count")  \
	X(fam, TDBAL, 0x0E000, 0x40, RW, "Tx Descriptor Base Low")           \
	X(fam, TDBAH, 0x0E004, 0x40, RW, "Tx Descriptor Base High")          \
	X(fam, TDLEN, 0x0E008, 0x40, RW, "Tx Descriptor Ring Length")        \
	X(fam, TDH, 0x0E010, 0x40, RW, "Tx Descriptor Head")                 \
	X(fam, TDT, 0x0E018, 0x40, RW, "Tx Descriptor Tail")                 \
	X(fam, TXDCTL, 0x0E028, 0x40, RW, "Tx Descriptor Control")          \
	IGB_IRQ_QUEUES(X, fam)

SN_DEFINE_REGISTERS(igb, IGB_GLOBALS, IGB_QUEUES)

#define CTRL_RST (1u << 26)
#define EECD_AUTO_RD (1u << 9)
#define SRRCTL_DESCTYPE_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 31)
#define QUEUE_ENABLE (1u << 25)      /* RXDCTL and TXDCTL */
/* MDIC (MDI Control) writes PHY registers: data 15:0, register 20:16, PHY 25:21,
 * opcode 27:26 (01 = write), ready 28. */
#define MDIC_PHY1_WRITE ((1u << 26) | (1u << 21))
#define MDIC_READY (1u << 28)
/* PHY control (BMCR, register 0): auto-negotiation enabled and restarted,
 * 1000 Mb/s full duplex advertised. */
#define PHY_BMCR_RESTART_AUTONEG 0x1340u

/* Advanced transmit data descriptor, DTYP = 0011; DCMD = EOP | IFCS | DEXT
 * (the ring adds RS). */
static const struct sn_ring_format igb_format = {
	.name = "advanced",
	.tx_cmd = (0x3ull << 20) | ((0x01ull | 0x02ull | 0x20ull) << 24),
	.tx_paylen = true,
	/* Receive errors: CE | SE | SEQ | CXE | RXE. */
	.rx_error_mask = 0x97000000u,
	/* RSS type in bits 3:0 of the write-back's first dword. */
	.rx_rss_type_mask = 0xf,
};

/* Initialization: mask interrupts, global reset, mask again, wait for the NVM. */
static int igb_reset(struct sn_intel_nic *nic, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	igb_wr_IMC(bar, ~0u);
	igb_wr_EIMC(bar, ~0u);
	igb_wr_CTRL(bar, igb_rd_CTRL(bar) | CTRL_RST);
	sn_intel_sleep_ms(2); /* the reset takes about 1 ms */
	if (sn_intel_wait(nic, igb_off_CTRL, CTRL_RST, 0, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: igb reset did not complete",
			       nic->dev->pci.addr);
	igb_wr_IMC(bar, ~0u);
	igb_wr_EIMC(bar, ~0u);
	/* A board without NVM (and QEMU's 82576 model) never sets AUTO_RD;
	 * like Linux, go on after a short wait: RAL0/RAH0 still hold the MAC. */
	sn_intel_wait(nic, igb_off_EECD, EECD_AUTO_RD, EECD_AUTO_RD, 20);
	return 0;
}

/* Receive Initialization, for one queue. */
static int igb_setup_rx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
			      uint16_t size, uint32_t buf_size, struct sn_queue_regs *regs,
			      struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	igb_wr_RDBAL(bar, q, (uint32_t)iova);
	igb_wr_RDBAH(bar, q, (uint32_t)(iova >> 32));
	igb_wr_RDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	/* Buffer size in KiB. With several queues, a queue out of
	 * descriptors drops rather than stalling the others (as Linux does);
	 * a single queue has no one to stall, and waits for descriptors. */
	uint32_t drop = nic->rx_queues > 1 ? SRRCTL_DROP_EN : 0;
	igb_wr_SRRCTL(bar, q, (buf_size / 1024) | SRRCTL_DESCTYPE_ADV_ONEBUF | drop);
	igb_wr_RDH(bar, q, 0);
	igb_wr_RDT(bar, q, 0);
	igb_wr_RXDCTL(bar, q, igb_rd_RXDCTL(bar, q) | QUEUE_ENABLE);
	if (sn_intel_wait(nic, igb_off_RXDCTL(q), QUEUE_ENABLE, QUEUE_ENABLE, 100) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: receive queue %u did not enable",
			       nic->dev->pci.addr, q);
	*regs = (struct sn_queue_regs){ igb_off_RDH(q), igb_off_RDT(q) };
	return 0;
}

/* Transmit Initialization, for one queue. */
static int igb_setup_tx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
			      uint16_t size, struct sn_queue_regs *regs, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	igb_wr_TDBAL(bar, q, (uint32_t)iova);
	igb_wr_TDBAH(bar, q, (uint32_t)(iova >> 32));
	igb_wr_TDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	igb_wr_TDH(bar, q, 0);
	igb_wr_TDT(bar, q, 0);
	igb_wr_TXDCTL(bar, q, igb_rd_TXDCTL(bar, q) | QUEUE_ENABLE);
	if (sn_intel_wait(nic, igb_off_TXDCTL(q), QUEUE_ENABLE, QUEUE_ENABLE, 100) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: transmit queue %u did not enable",
			       nic->dev->pci.addr, q);
	*regs = (struct sn_queue_regs){ igb_off_TDH(q), igb_off_TDT(q) };
	return 0;
}

/* After a reset the copper PHY must negotiate again before the
 * MAC reports link (and before QEMU's model accepts frames); setting
 * CTRL.SLU alone does not start it. STATUS.LU follows within a second,
 * which the caller's link check waits for. */
static void igb_restart_autoneg(struct sn_intel_nic *nic)
{
	igb_wr_MDIC(nic->bar, MDIC_PHY1_WRITE | PHY_BMCR_RESTART_AUTONEG);
	sn_intel_wait(nic, igb_off_MDIC, MDIC_READY, MDIC_READY, 10);
}

/* With RCTL.LPE the NIC drops received frames longer than RLPML (FCS
 * included) and counts them in ROC (82576 datasheet, RCTL and RLPML;
 * Linux's igb sets LPE always): so the NIC enforces the MTU itself. */
static void igb_enable(struct sn_intel_nic *nic, bool promiscuous)
{
	igb_wr_RLPML(nic->bar, nic->dev->mtu + 14u + 4u);
	sn_intel_e1000_enable(nic, promiscuous, true);
	igb_restart_autoneg(nic);
}

static void igb_disable(struct sn_intel_nic *nic)
{
	volatile uint8_t *bar = nic->bar;
	sn_intel_e1000_disable(nic);
	for (unsigned q = 0; q < nic->rx_queues; q++)
		igb_wr_RXDCTL(bar, q, igb_rd_RXDCTL(bar, q) & ~QUEUE_ENABLE);
	for (unsigned q = 0; q < nic->tx_queues; q++)
		igb_wr_TXDCTL(bar, q, igb_rd_TXDCTL(bar, q) & ~QUEUE_ENABLE);
}

static void igb_queue_enable(struct sn_intel_nic *nic, bool receive, unsigned q, bool on)
{
	sn_intel_queue_ctl_enable(nic, receive ? igb_off_RXDCTL(q) : igb_off_TXDCTL(q), on);
}

/* ---- receive interrupts, MSI-X mode ---------------------------------- */

#define GPIE_NSICR (1u << 0)         /* any ICR read clears it */
#define GPIE_MSIX_MODE (1u << 4)     /* EICR bits are MSI-X vectors */
#define GPIE_EIAME (1u << 30)        /* EIAM auto-masks a vector that fired */
#define GPIE_PBA_SUPPORT (1u << 31)
#define IVAR_VALID 0x80u
#define ICR_LSC (1u << 2)            /* link status change */
#define EITR_INTERVAL_MASK 0x7ffcu   /* bits 14:2, in microseconds */

/* IVAR n holds receive queue n in byte 0 and receive queue n + 8 in
 * byte 2 (the 82576's layout; the 82575's MSIXBM and the 82580's pairs
 * differ); transmit entries stay invalid: no transmit interrupts. */
static void igb_map_rx_queue(struct sn_intel_nic *nic, unsigned q, unsigned vector)
{
	unsigned shift = (q & 8) ? 16 : 0;
	uint32_t ivar = igb_rd_IVAR(nic->bar, q & 7) & ~(0xffu << shift);
	igb_wr_IVAR(nic->bar, q & 7, ivar | (vector | IVAR_VALID) << shift);
}

/* Setting up MSI-X: interrupt causes, vector allocation, throttling,
 * then the masks. Every vector auto-clears its EICR bit when it fires,
 * so the next cause fires again. */
static int igb_irq_setup(struct sn_intel_nic *nic, const struct sn_intr *intr,
			 uint16_t itr_usec, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	uint32_t queues = 0, other = 1u << intr->event_vector;
	(void)err;
	igb_wr_GPIE(bar, GPIE_NSICR | GPIE_MSIX_MODE | GPIE_EIAME | GPIE_PBA_SUPPORT);
	for (unsigned q = 0; q < nic->rx_queues; q++) {
		igb_map_rx_queue(nic, q, q);
		igb_wr_EITR(bar, q, ((uint32_t)itr_usec << 2) & EITR_INTERVAL_MASK);
		queues |= 1u << q;
	}
	igb_wr_IVAR_MISC(bar, (intr->event_vector | IVAR_VALID) << 8);
	igb_wr_EIAC(bar, queues | other);
	igb_wr_EIAM(bar, queues);    /* one-shot queue vectors on the 82576 */
	igb_wr_EIMC(bar, queues);
	igb_wr_EICR(bar, queues | other);
	(void)igb_rd_ICR(bar);
	igb_wr_IMS(bar, ICR_LSC);
	igb_wr_EIMS(bar, other);
	return 0;
}

static void igb_irq_queue(struct sn_intel_nic *nic, unsigned q, bool unmask)
{
	volatile uint8_t *bar = nic->bar;
	if (!unmask) {
		igb_wr_EIMC(bar, 1u << q);
		return;
	}
	/* A cause left from frames already polled would fire at once. */
	igb_wr_EICR(bar, 1u << q);
	igb_wr_EIMS(bar, 1u << q);
	(void)igb_rd_STATUS(bar);  /* flush: both writes reached the NIC */
}

static void igb_irq_ack(struct sn_intel_nic *nic, const struct sn_intr *intr)
{
	(void)igb_rd_ICR(nic->bar);  /* clears the causes (GPIE.NSICR) */
	igb_wr_EIMS(nic->bar, 1u << intr->event_vector);
}

/* 7.1.2.8 Receive-Side Scaling: MRQC.Multiple Receive Queues Enable =
 * 010b (RSS only, no VMDq); hash fields from bit 16. IPv6 TCP sets both
 * the plain and the extension-header bit: QEMU's model looks only at the
 * latter (bit 18) for TCP over IPv6. The queue number is the low bits of
 * a redirection table entry. */
static const struct sn_intel_rss igb_rss = {
	.mrqc = igb_off_MRQC, .reta = igb_off_RETA, .rssrk = igb_off_RSSRK,
	.rxcsum = igb_off_RXCSUM,
	.mrqc_enable = 0x2,
	.fields = { 1u << 17, 1u << 16, 1u << 22, 1u << 20, (1u << 21) | (1u << 18), 1u << 23 },
	.reta_shift = 0,
};

/* Queues each way: 16 on the 82576 and 8 on the I350 (of which safenic
 * uses up to SN_MAX_QUEUES), 4 on the I210, 2 on the I211. */
static uint16_t igb_max_queues(uint16_t device)
{
	uint16_t n = 8;
	switch (device) {
	case 0x1533: case 0x1536: case 0x1537: case 0x1538: case 0x157b: case 0x157c:
		n = 4;
		break;
	case 0x1539:
		n = 2;
		break;
	}
	return n < SN_MAX_QUEUES ? n : SN_MAX_QUEUES;
}

static const char *igb_match(uint16_t vendor, uint16_t device)
{
	if (vendor != 0x8086)
		return NULL;
	switch (device) {
	case 0x10c9: case 0x10e6: case 0x10e7: case 0x10e8: case 0x1526:
	case 0x150a: case 0x1518: case 0x150d:
		return "Intel 82576";
	case 0x1521: case 0x1522: case 0x1523: case 0x1524:
		return "Intel I350";
	case 0x1533: case 0x1536: case 0x1537: case 0x1538: case 0x157b: case 0x157c:
		return "Intel I210";
	case 0x1539:
		return "Intel I211";
	}
	return NULL;
}

const struct sn_intel_family sn_igb_family = {
	.name = "igb",
	.format = &igb_format,
	.registers = igb_registers,
	.num_registers = igb_num_registers,
	.max_queues = 8,
	.max_queues_of = igb_max_queues,
	.rss = &igb_rss,
	.default_ring = 512,
	.min_rx_room = 1024,
	.reset = igb_reset,
	.ral0 = igb_off_RAL0,
	.setup_rx_queue = igb_setup_rx_queue,
	.setup_tx_queue = igb_setup_tx_queue,
	.queue_enable = igb_queue_enable,
	.enable = igb_enable,
	.disable = igb_disable,
	.link = sn_intel_e1000_link,
	.irq_setup = igb_irq_setup,
	.irq_queue = igb_irq_queue,
	.irq_ack = igb_irq_ack,
	.rx_packets = "GPRC",
	.tx_packets = "GPTC",
	.rx_bytes = "GORCL",
	.tx_bytes = "GOTCL",
	.rx_missed = "MPC",
	.rx_oversize = "ROC",
	.rx_queue_drops = "RQDPC",
};

SN_INTEL_DRIVER(sn_igb_driver, "igb", igb_match, sn_igb_family);
