#include <errno.h>
#include <stdlib.h>

#include "bufids.h"
#include "mempool.h"

int sn_buf_ids_init(struct sn_buf_ids *ids, uint16_t size)
{
	ids->free = calloc(size, sizeof(*ids->free));
	ids->inflight = calloc(size, sizeof(*ids->inflight));
	if (!ids->free || !ids->inflight) {
		sn_buf_ids_fini(ids);
		return -ENOMEM;
	}
	/* Popped from the top: id 0 goes out first. */
	for (uint16_t i = 0; i < size; i++)
		ids->free[i] = (uint16_t)(size - 1 - i);
	ids->num_free = size;
	return 0;
}

void sn_buf_ids_fini(struct sn_buf_ids *ids)
{
	free(ids->free);
	free(ids->inflight);
	ids->free = NULL;
	ids->inflight = NULL;
	ids->num_free = 0;
}

void sn_buf_ids_drain(struct sn_buf_ids *ids, uint16_t size)
{
	for (uint16_t id = 0; ids->inflight && id < size; id++) {
		if (ids->inflight[id]) {
			sn_pkt_free_from_ring(&ids->inflight[id], 1);
			ids->inflight[id] = NULL;
			ids->free[ids->num_free++] = id;
		}
	}
}
