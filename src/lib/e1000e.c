/* e1000e: Intel 82574L. Facts from the Intel 82574 GbE Controller Family
 * Datasheet, rev 3.x. Extended receive descriptors and legacy transmit
 * descriptors, run by the
 * same ring engine as igb and ixgbe. */
#define _GNU_SOURCE
#include <errno.h>

#include "error.h"
#include "intel.h"

/* Interrupt registers, for receive interrupts in MSI-X mode (82574
 * datasheet, "Interrupts" and "MSI-X"). ICR is read-to-clear, not a
 * counter: RW here, so the counter sweep leaves it alone. */
#define E1000E_IRQ_GLOBALS(X, fam)                                            \
	X(fam, CTRL_EXT, 0x00018, RW, "Extended Device Control")             \
	X(fam, ICR, 0x000C0, RW, "Interrupt Cause Read (write 1 clears)")    \
	X(fam, ITR, 0x000C4, RW, "Interrupt Throttling")                     \
	X(fam, IMS, 0x000D0, RW, "Interrupt Mask Set/Read")                  \
	X(fam, EIAC, 0x000DC, RW, "Extended Interrupt Auto Clear")           \
	X(fam, IAM, 0x000E0, RW, "Interrupt Acknowledge Auto Mask")          \
	X(fam, IVAR, 0x000E4, RW, "Interrupt Vector Allocation")

#define E1000E_IRQ_QUEUES(X, fam)                                             \
	X(fam, EITR, 0x000E8, 0x4, RW, "Extended Interrupt Throttling, per vector")

/* Registers beyond the e1000 common set (intel.h). The 82574 has two
 * queues each way, queue 1's registers 0x100 above queue 0's. */
#define E1000E_GLOBALS(X, fam)                                                \
	SN_E1000_COMMON_GLOBALS(X, fam)                                      \
	E1000E_IRQ_GLOBALS(X, fam)                                           \
	X(fam, TIPG, 0x00410, RW, "Transmit Inter-Packet Gap")               \
	X(fam, RXCSUM, 0x05000, RW, "Receive Checksum Control")              \
	X(fam, RFCTL, 0x05008, RW, "Receive Filter Control")                 \
	X(fam, MRQC, 0x05818, RW, "Multiple Receive Queues Command")        \
	X(fam, RETA, 0x05C00, RW, "Redirection Table (32 registers)")       \
	X(fam, RSSRK, 0x05C80, RW, "RSS Random Key (10 registers)")

#define E1000E_QUEUES(X, fam) SN_E1000_COMMON_QUEUES(X, fam) E1000E_IRQ_QUEUES(X, fam)

SN_DEFINE_REGISTERS(e1000e, E1000E_GLOBALS, E1000E_QUEUES)

#define CTRL_RST (1u << 26)
#define EECD_AUTO_RD (1u << 9)
#define RFCTL_EXSTEN (1u << 15)     /* extended receive descriptors */
#define RCTL_EN (1u << 1)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TXDCTL_GRAN_WTHRESH_1 0x01010000u /* write back each descriptor */
/* TIPG for copper: IPGT 8, IPGR1 8, IPGR2 6. */
#define TIPG_DEFAULT (8u | 8u << 10 | 6u << 20)

/* Legacy transmit descriptor, CMD = EOP | IFCS in bits 31:24 (the ring
 * adds RS). */
static const struct sn_ring_format e1000e_format = {
	.name = "extended rx / legacy tx",
	.tx_cmd = (0x01ull | 0x02ull) << 24,
	.tx_paylen = false,
	/* Receive errors: CE | SE | SEQ | CXE | RXE. */
	.rx_error_mask = 0x97000000u,
	/* RSS type in bits 3:0 of the write-back's first dword. */
	.rx_rss_type_mask = 0xf,
};

/* Initialization: mask interrupts, global reset, mask again, wait for the NVM. */
static int e1000e_reset(struct sn_intel_nic *nic, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	e1000e_wr_IMC(bar, ~0u);
	e1000e_wr_RCTL(bar, 0);
	e1000e_wr_TCTL(bar, TCTL_PSP);
	sn_intel_sleep_ms(10); /* let pending DMA finish before the reset */
	e1000e_wr_CTRL(bar, e1000e_rd_CTRL(bar) | CTRL_RST);
	sn_intel_sleep_ms(2);
	if (sn_intel_wait(nic, e1000e_off_CTRL, CTRL_RST, 0, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: e1000e reset did not complete",
			       nic->dev->pci.addr);
	e1000e_wr_IMC(bar, ~0u);
	if (sn_intel_wait(nic, e1000e_off_EECD, EECD_AUTO_RD, EECD_AUTO_RD, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: the NVM auto-read did not finish",
			       nic->dev->pci.addr);
	return 0;
}

/* Receive Initialization. The queue is enabled by RCTL.EN. */
static int e1000e_setup_rx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
				 uint16_t size, uint32_t buf_size, struct sn_queue_regs *regs,
				 struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	(void)buf_size; /* at least min_rx_room; RCTL programs 2048 */
	(void)err;
	e1000e_wr_RFCTL(bar, e1000e_rd_RFCTL(bar) | RFCTL_EXSTEN);
	e1000e_wr_RDBAL(bar, q, (uint32_t)iova);
	e1000e_wr_RDBAH(bar, q, (uint32_t)(iova >> 32));
	e1000e_wr_RDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	e1000e_wr_RDH(bar, q, 0);
	e1000e_wr_RDT(bar, q, 0);
	*regs = (struct sn_queue_regs){ e1000e_off_RDH(q), e1000e_off_RDT(q) };
	return 0;
}

/* Transmit Initialization. */
static int e1000e_setup_tx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
				 uint16_t size, struct sn_queue_regs *regs, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	(void)err;
	e1000e_wr_TDBAL(bar, q, (uint32_t)iova);
	e1000e_wr_TDBAH(bar, q, (uint32_t)(iova >> 32));
	e1000e_wr_TDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	e1000e_wr_TDH(bar, q, 0);
	e1000e_wr_TDT(bar, q, 0);
	e1000e_wr_TXDCTL(bar, q, (e1000e_rd_TXDCTL(bar, q) & ~0x3f3f3fu) | TXDCTL_GRAN_WTHRESH_1);
	e1000e_wr_TIPG(bar, TIPG_DEFAULT);
	*regs = (struct sn_queue_regs){ e1000e_off_TDH(q), e1000e_off_TDT(q) };
	return 0;
}

/* The 82574's queues are switched by the receiver and transmitter
 * enables, both queues at once (a queue's reset pauses the other for
 * its 10 ms); there is no bit that confirms a stop, so wait as the reset
 * does for DMA in progress to finish. */
/* The 82574 has no maximum-length register: without RCTL.LPE it drops
 * frames longer than 1522 bytes with the FCS (a tagged 1500-byte MTU)
 * and counts them in ROC, with LPE it takes frames up to its buffers
 * (82574 datasheet, RCTL; Linux's e1000e sets LPE for an MTU over 1500).
 * What lies between the MTU and that limit the ring drops. */
static void e1000e_enable(struct sn_intel_nic *nic, bool promiscuous)
{
	sn_intel_e1000_enable(nic, promiscuous, nic->dev->mtu > 1500);
}

static void e1000e_queue_enable(struct sn_intel_nic *nic, bool receive, unsigned q, bool on)
{
	volatile uint8_t *bar = nic->bar;
	(void)q;
	if (receive)
		e1000e_wr_RCTL(bar, on ? e1000e_rd_RCTL(bar) | RCTL_EN
				       : e1000e_rd_RCTL(bar) & ~RCTL_EN);
	else
		e1000e_wr_TCTL(bar, on ? e1000e_rd_TCTL(bar) | TCTL_EN
				       : e1000e_rd_TCTL(bar) & ~TCTL_EN);
	if (!on)
		sn_intel_sleep_ms(10);
}

/* ---- receive interrupts, MSI-X mode ---------------------------------- */

#define ICR_LSC (1u << 2)
#define ICR_RXQ(q) (1u << (20 + (q)))  /* receive queue 0 or 1 */
#define ICR_OTHER (1u << 24)           /* any of the other causes */
#define CTRL_EXT_EIAME (1u << 24)      /* IAM auto-masks a cause that fired */
#define CTRL_EXT_IAME (1u << 27)
#define CTRL_EXT_PBA_CLR (1u << 31)
#define IVAR_VALID 0x8u                /* each entry: vector 2:0, valid 3 */
#define IVAR_OTHER_SHIFT 16
#define ITR_NS 256                     /* ITR and EITR count 256 ns */

static uint32_t itr_units(uint16_t usec)
{
	uint32_t units = (uint32_t)usec * 1000u / ITR_NS;
	return units > 0xffff ? 0xffff : units;
}

/* Setting up MSI-X: receive queue q on vector q (IVAR entries of 4 bits,
 * queue 0 in bits 3:0, queue 1 in 7:4, the transmit ones left invalid),
 * the other causes on the event vector; every cause that fires clears
 * itself (EIAC) and, for the queues, masks itself (IAM with EIAME). */
static int e1000e_irq_setup(struct sn_intel_nic *nic, const struct sn_intr *intr,
			    uint16_t itr_usec, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	uint32_t ivar = (intr->event_vector | IVAR_VALID) << IVAR_OTHER_SHIFT, queues = 0;
	(void)err;
	for (unsigned q = 0; q < nic->rx_queues; q++) {
		ivar |= (q | IVAR_VALID) << (4 * q);
		queues |= ICR_RXQ(q);
		e1000e_wr_EITR(bar, q, itr_units(itr_usec));
	}
	e1000e_wr_IVAR(bar, ivar);
	e1000e_wr_ITR(bar, itr_units(itr_usec));
	e1000e_wr_CTRL_EXT(bar, (e1000e_rd_CTRL_EXT(bar) & ~CTRL_EXT_IAME) |
				CTRL_EXT_PBA_CLR | CTRL_EXT_EIAME);
	e1000e_wr_EIAC(bar, queues | ICR_OTHER);
	e1000e_wr_IAM(bar, queues);
	e1000e_wr_IMC(bar, queues);
	e1000e_wr_ICR(bar, ~0u);
	e1000e_wr_IMS(bar, ICR_LSC | ICR_OTHER);
	return 0;
}

static void e1000e_irq_queue(struct sn_intel_nic *nic, unsigned q, bool unmask)
{
	volatile uint8_t *bar = nic->bar;
	if (!unmask) {
		e1000e_wr_IMC(bar, ICR_RXQ(q));
		return;
	}
	/* A cause left from frames already polled would fire at once. */
	e1000e_wr_ICR(bar, ICR_RXQ(q));
	e1000e_wr_IMS(bar, ICR_RXQ(q));
	(void)e1000e_rd_STATUS(bar);  /* flush: both writes reached the NIC */
}

/* Writing OTHER to ICR clears every other cause with it. */
static void e1000e_irq_ack(struct sn_intel_nic *nic, const struct sn_intr *intr)
{
	(void)intr;
	e1000e_wr_ICR(nic->bar, ICR_OTHER | ICR_LSC);
	e1000e_wr_IMS(nic->bar, ICR_LSC | ICR_OTHER);
}
/* 7.1.12 Receive-Side Scaling: MRQC.Multiple Receive Queues Enable = 01b
 * (RSS); hash fields TcpIPv4 (bit 16), IPv4 (17), TcpIPv6 (18), IPv6 (20);
 * no UDP hash (a UDP frame hashes on its addresses). Both the datasheet
 * and QEMU's model want extended descriptors and RXCSUM.PCSD for it. The
 * queue number is bit 7 of a redirection table entry. */
static const struct sn_intel_rss e1000e_rss = {
	.mrqc = e1000e_off_MRQC, .reta = e1000e_off_RETA, .rssrk = e1000e_off_RSSRK,
	.rxcsum = e1000e_off_RXCSUM,
	.mrqc_enable = 0x1,
	.fields = { 1u << 17, 1u << 16, 0, 1u << 20, 1u << 18, 0 },
	.reta_shift = 7,
};

static const char *e1000e_match(uint16_t vendor, uint16_t device)
{
	if (vendor == 0x8086 && (device == 0x10d3 || device == 0x10f6))
		return "Intel 82574L";
	return NULL;
}

const struct sn_intel_family sn_e1000e_family = {
	.name = "e1000e",
	.format = &e1000e_format,
	.registers = e1000e_registers,
	.num_registers = e1000e_num_registers,
	.max_queues = 2,
	.rss = &e1000e_rss,
	.default_ring = 512,
	.min_rx_room = 2048,
	.rx_buf_fixed = 2048,
	.reset = e1000e_reset,
	.ral0 = e1000e_off_RAL0,
	.setup_rx_queue = e1000e_setup_rx_queue,
	.setup_tx_queue = e1000e_setup_tx_queue,
	.queue_enable = e1000e_queue_enable,
	.enable = e1000e_enable,
	.disable = sn_intel_e1000_disable,
	.link = sn_intel_e1000_link,
	.irq_setup = e1000e_irq_setup,
	.irq_queue = e1000e_irq_queue,
	.irq_ack = e1000e_irq_ack,
	.rx_packets = "GPRC",
	.tx_packets = "GPTC",
	.rx_bytes = "GORCL",
	.tx_bytes = "GOTCL",
	.rx_missed = "MPC",
	.rx_oversize = "ROC",
};

SN_INTEL_DRIVER(sn_e1000e_driver, "e1000e", e1000e_match, sn_e1000e_family);
