/* The virtio-net control queue (sn_vctrl in src/lib/virtqueue.c) against a
 * device whose every write comes from the fuzzer: used entries anywhere in
 * the ring (id and length), the ack byte, the used index.
 *
 * Input: byte 0 picks the queue size (4, 8 or 16); the rest is a script:
 * the driver posts a command (with a length that may be too long or
 * zero) or looks for the answer; the device writes a used entry, the ack
 * byte or its used index. After every step the result is held against
 * what the spec allows: a command is believed (0) only when exactly one
 * completion came, in the command's chain, one byte long, with ack OK;
 * -EIO only for the same with ack ERR; anything else the device wrote is
 * -EPROTO, after which every call says -EPROTO. A posted command is a
 * chain of three descriptors pointing at the command buffer and the ack
 * byte and nowhere else. The rings are allocated at exactly their spec
 * sizes, so ASan sees any access past them. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "virtqueue.h"

#define DATA_IOVA 0x100000u
#define ACK_IOVA 0x200000u

struct model {
	bool pending, broken;
	uint16_t used_idx;           /* the driver's, as the spec says it moves */
};

static void check_post(struct sn_vctrl *cq, struct model *m, struct fuzz_in *in)
{
	uint8_t data[SN_VCTRL_DATA_ROOM + 8];
	size_t len = fuzz_u16(in) % sizeof(data);
	uint16_t before = cq->avail->idx;
	memset(data, 0x5a, sizeof(data));
	int rc = sn_vctrl_post(cq, fuzz_u8(in), fuzz_u8(in), data, len);
	int want = m->broken ? -EPROTO : m->pending ? -EBUSY
		 : (len == 0 || len > SN_VCTRL_DATA_ROOM - 2) ? -EMSGSIZE : 0;
	FUZZ_CHECK(rc == want, "post of %zu bytes: %d, expected %d", len, rc, want);
	if (rc < 0) {
		FUZZ_CHECK(cq->avail->idx == before, "a refused post moved the available index");
		return;
	}
	m->pending = true;
	const struct vring_desc *d = cq->desc;
	FUZZ_CHECK(cq->avail->idx == (uint16_t)(before + 1) &&
			   cq->avail->ring[before & cq->mask] == 0,
		   "the command's head is not published once");
	FUZZ_CHECK(d[0].addr == DATA_IOVA && d[0].len == 2 && d[0].flags == VRING_DESC_F_NEXT &&
			   d[0].next == 1,
		   "header descriptor");
	FUZZ_CHECK(d[1].addr == DATA_IOVA + 2 && d[1].len == len &&
			   d[1].flags == VRING_DESC_F_NEXT && d[1].next == 2,
		   "data descriptor");
	FUZZ_CHECK(d[2].addr == ACK_IOVA && d[2].len == 1 && d[2].flags == VRING_DESC_F_WRITE,
		   "ack descriptor");
}

static void check_poll(struct sn_vctrl *cq, struct model *m)
{
	/* What the device wrote, before the driver looks. */
	uint16_t device_idx = cq->used->idx, done = (uint16_t)(device_idx - m->used_idx);
	struct vring_used_elem e = cq->used->ring[m->used_idx & cq->mask];
	uint8_t ack = *cq->ack;
	struct sn_vctrl_why why;
	int rc = sn_vctrl_poll(cq, &why);
	int want;

	if (m->broken)
		want = -EPROTO;
	else if (!m->pending)
		want = -EINVAL;
	else if (done == 0)
		want = -EAGAIN;
	else if (done == 1 && e.id == 0 && e.len == 1 && ack == VIRTIO_NET_OK)
		want = 0;
	else if (done == 1 && e.id == 0 && e.len == 1 && ack == VIRTIO_NET_ERR)
		want = -EIO;
	else
		want = -EPROTO;
	FUZZ_CHECK(rc == want, "poll: %d, expected %d (done %u, id %u, len %u, ack %u)", rc,
		   want, done, e.id, e.len, ack);
	if (m->pending && !m->broken && done != 0) {
		m->pending = false;
		m->used_idx++;
		m->broken = want == -EPROTO;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	uint16_t qsize = (uint16_t)(4u << (fuzz_u8(&in) % 3));
	void *desc = calloc(1, sn_vring_desc_bytes(qsize));
	void *avail = calloc(1, sn_vring_avail_bytes(qsize));
	void *used = calloc(1, sn_vring_used_bytes(qsize));
	uint8_t *buf = malloc(SN_VCTRL_DATA_ROOM);
	uint8_t *ack = malloc(1);
	struct sn_vctrl cq;
	struct model m = { 0 };

	FUZZ_CHECK(desc && avail && used && buf && ack, "out of memory");
	FUZZ_CHECK(sn_vctrl_init(&cq, qsize, desc, avail, used, buf, DATA_IOVA, ack, ACK_IOVA) == 0,
		   "sn_vctrl_init");
	*ack = 0;
	for (int steps = 0; steps < 256 && !fuzz_done(&in); steps++) {
		uint8_t op = fuzz_u8(&in);
		switch (op % 5) {
		case 0:
			check_post(&cq, &m, &in);
			break;
		case 1: {
			uint16_t slot = fuzz_u16(&in);
			uint32_t id = (op & 0x80) ? 0 : fuzz_u32(&in);
			uint32_t len = (op & 0x40) ? 1 : fuzz_u32(&in);
			cq.used->ring[slot & cq.mask] = (struct vring_used_elem){ id, len };
			break;
		}
		case 2:
			*cq.ack = (op & 0x80) ? (uint8_t)(op >> 6 & 1) : fuzz_u8(&in);
			break;
		case 3:
			/* Mostly one step on; sometimes anywhere. */
			cq.used->idx = (op & 0x80) ? fuzz_u16(&in) : (uint16_t)(cq.used->idx + 1);
			break;
		case 4:
			check_poll(&cq, &m);
			break;
		}
	}
	free(desc);
	free(avail);
	free(used);
	free(buf);
	free(ack);
	return 0;
}
