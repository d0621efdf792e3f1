#include <string.h>

#include "regs.h"

void sn_regs_accumulate(volatile uint8_t *bar, const struct sn_reg_info *table,
			size_t count, uint64_t *totals)
{
	for (size_t i = 0; i < count; i++) {
		const struct sn_reg_info *r = &table[i];
		if (r->mode == SN_REG_RC) {
			totals[i] += sn_mmio_rd(bar, r->offset);
		} else if (r->mode == SN_REG_RC64) {
			/* Low first: reading the high half clears the pair. */
			uint64_t lo = sn_mmio_rd(bar, r->offset);
			uint64_t hi = sn_mmio_rd(bar, r->offset + 4);
			totals[i] += lo | hi << 32;
		}
	}
}

uint64_t sn_regs_total(const struct sn_reg_info *table, size_t count,
		       const uint64_t *totals, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(table[i].name, name) == 0)
			return totals[i];
	return 0;
}
