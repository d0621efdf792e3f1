/* Registers as data. Each family declares its registers once, as an
 * X-macro list of (mnemonic, offset, per-queue stride, mode, description),
 * and this header generates from it:
 *   - offsets:        FAM_NAME (and FAM_NAME_Q(q) for queue registers)
 *   - typed accessors: fam_rd_NAME(bar[, q]) for RO, RW and RC registers,
 *                      fam_wr_NAME(bar[, q], v) for RW and WO registers,
 *     so writing a read-only register does not compile;
 *   - a table of every register, for dumps and for accumulating the
 *     read-to-clear (RC) counters into 64-bit totals.
 * Modes: RW, RO, WO, RC (read-to-clear counter), RC64 (the low half of a
 * 64-bit read-to-clear counter whose high half sits at offset + 4). */
#ifndef SN_REGS_H
#define SN_REGS_H

#include <stddef.h>
#include <stdint.h>

enum sn_reg_mode { SN_REG_RW, SN_REG_RO, SN_REG_WO, SN_REG_RC, SN_REG_RC64 };

struct sn_reg_info {
	const char *name;
	uint32_t offset;
	uint32_t stride;             /* 0: not a queue register */
	enum sn_reg_mode mode;
	const char *description;
};

static inline uint32_t sn_mmio_rd(volatile uint8_t *bar, uint32_t off)
{
	return *(volatile uint32_t *)(bar + off);
}

static inline void sn_mmio_wr(volatile uint8_t *bar, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

/* ---- generators; FAM is the lower-case prefix, UP the upper-case one --- */

#define SN_REG_RD(fam, name, off)                                                  \
	static inline __attribute__((unused)) uint32_t fam##_rd_##name(volatile uint8_t *bar) \
	{ return sn_mmio_rd(bar, (off)); }
#define SN_REG_WR(fam, name, off)                                                  \
	static inline __attribute__((unused)) void fam##_wr_##name(volatile uint8_t *bar, uint32_t v) \
	{ sn_mmio_wr(bar, (off), v); }
#define SN_REG_QRD(fam, name, off, stride)                                         \
	static inline __attribute__((unused)) uint32_t fam##_rd_##name(volatile uint8_t *bar, unsigned q) \
	{ return sn_mmio_rd(bar, (off) + q * (stride)); }
#define SN_REG_QWR(fam, name, off, stride)                                         \
	static inline __attribute__((unused)) void fam##_wr_##name(volatile uint8_t *bar, unsigned q, uint32_t v) \
	{ sn_mmio_wr(bar, (off) + q * (stride), v); }

#define SN_REG_ACC_RW(fam, name, off) SN_REG_RD(fam, name, off) SN_REG_WR(fam, name, off)
#define SN_REG_ACC_RO(fam, name, off) SN_REG_RD(fam, name, off)
#define SN_REG_ACC_RC(fam, name, off) SN_REG_RD(fam, name, off)
#define SN_REG_ACC_RC64(fam, name, off) SN_REG_RD(fam, name, off)
#define SN_REG_ACC_WO(fam, name, off) SN_REG_WR(fam, name, off)
#define SN_REG_QACC_RW(fam, name, off, s) SN_REG_QRD(fam, name, off, s) SN_REG_QWR(fam, name, off, s)
#define SN_REG_QACC_RO(fam, name, off, s) SN_REG_QRD(fam, name, off, s)
#define SN_REG_QACC_WO(fam, name, off, s) SN_REG_QWR(fam, name, off, s)
#define SN_REG_QACC_RC(fam, name, off, s) SN_REG_QRD(fam, name, off, s)

#define SN_REG_OFF(fam, name, off)                                                 \
	enum { fam##_off_##name = (off) };
#define SN_REG_QOFF(fam, name, off, stride)                                        \
	static inline __attribute__((unused)) uint32_t fam##_off_##name(unsigned q) \
	{ return (off) + q * (stride); }

/* Global registers: X(fam, name, offset, mode, description). */
#define SN_REG_GLOBAL_ACCESSOR(fam, name, off, mode, desc) \
	SN_REG_OFF(fam, name, off) SN_REG_ACC_##mode(fam, name, off)
/* Queue registers: X(fam, name, offset, stride, mode, description). */
#define SN_REG_QUEUE_ACCESSOR(fam, name, off, stride, mode, desc) \
	SN_REG_QOFF(fam, name, off, stride) SN_REG_QACC_##mode(fam, name, off, stride)

#define SN_REG_GLOBAL_INFO(fam, name, off, mode, desc) \
	{ #name, (off), 0, SN_REG_##mode, desc },
#define SN_REG_QUEUE_INFO(fam, name, off, stride, mode, desc) \
	{ #name, (off), (stride), SN_REG_##mode, desc },

/* Expands a family's two lists into accessors and its info table. */
#define SN_DEFINE_REGISTERS(fam, GLOBALS, QUEUES)                                 \
	GLOBALS(SN_REG_GLOBAL_ACCESSOR, fam)                                       \
	QUEUES(SN_REG_QUEUE_ACCESSOR, fam)                                         \
	static const struct sn_reg_info fam##_registers[] = {                      \
		GLOBALS(SN_REG_GLOBAL_INFO, fam) QUEUES(SN_REG_QUEUE_INFO, fam)    \
	};                                                                         \
	enum { fam##_num_registers = sizeof(fam##_registers) / sizeof(fam##_registers[0]) };

/* Counters: the RC/RC64 rows of a table, accumulated into 64-bit totals.
 * totals[] is indexed like the table. A per-queue counter is read for
 * queue 0, the one queue the drivers use by default. */
void sn_regs_accumulate(volatile uint8_t *bar, const struct sn_reg_info *table,
			size_t count, uint64_t *totals);
/* Total of the counter with the given name; 0 when the table has none. */
uint64_t sn_regs_total(const struct sn_reg_info *table, size_t count,
		       const uint64_t *totals, const char *name);

#endif
