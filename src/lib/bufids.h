/* Buffer ids of a virtqueue, split or packed: the packet each id in
 * flight carries, and a stack of the ids not in flight. Driver-private
 * memory: an id the device hands back is looked up here, never trusted
 * as a pointer or an index before a bounds check. */
#ifndef SN_BUFIDS_H
#define SN_BUFIDS_H

#include <stdint.h>

struct sn_pkt;

struct sn_buf_ids {
	uint16_t num_free;
	uint16_t *free;              /* stack of ids not in flight */
	struct sn_pkt **inflight;    /* by id; NULL = not ours */
};

/* Every id of 0..size-1 free; -ENOMEM (ids left empty) when out of memory. */
int sn_buf_ids_init(struct sn_buf_ids *ids, uint16_t size);
void sn_buf_ids_fini(struct sn_buf_ids *ids);
/* Gives every buffer still in flight back to its pool and frees its id:
 * for a queue the device no longer uses. */
void sn_buf_ids_drain(struct sn_buf_ids *ids, uint16_t size);

#endif
