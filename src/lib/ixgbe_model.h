/* A model of the Intel 82599's registers and ring protocol, written from
 * its datasheet, for host tests (QEMU has no ixgbe). It runs in a thread,
 * like the NIC would: it completes resets, latches enables, checks the
 * start-up order the datasheet asks for, transmits descriptors between
 * TDH and TDT, and loops the frames back into its own receive ring.
 * Test code only. */
#ifndef SN_IXGBE_MODEL_H
#define SN_IXGBE_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"

#define BAR_SIZE 0x20000
#define R(off) (*(volatile uint32_t *)(m->bar + (off)))
#define CTRL 0x00000
#define EICR 0x00800
#define EIAC 0x00810
#define EIMS 0x00880
#define EIMC 0x00888
#define GPIE 0x00898
#define IVAR 0x00900
#define EIAM_EX0 0x00AD0
#define RDRXCTL 0x02F00
#define RXCTRL 0x03000
#define HLREG0 0x04240
#define LINKS 0x042A4
#define DMATXCTL 0x04A80
#define FCTRL 0x05080
#define RAL0 0x0A200
#define RAH0 0x0A204
#define EEC 0x10010
#define MPC0 0x03FA0
#define GPRC 0x04074
#define GPTC 0x04080
#define GORCL 0x04088
#define GOTCL 0x04090
#define RDBAL 0x01000
#define RDBAH 0x01004
#define RDLEN 0x01008
#define RDH 0x01010
#define SRRCTL 0x01014
#define RDT 0x01018
#define RXDCTL 0x01028
#define TDBAL 0x06000
#define TDBAH 0x06004
#define TDLEN 0x06008
#define TDH 0x06010
#define TDT 0x06018
#define TXDCTL 0x06028
#define ENABLE (1u << 25)
#define RXCSUM 0x05000
#define MRQC 0x0EC80
#define RETA 0x0EB00
#define RSSRK 0x0EB80
#define PCSD (1u << 13)
/* Queue q's copy of a queue register (queues 0-63, stride 0x40). */
#define RQ(off, q) (*(volatile uint32_t *)(m->bar + (off) + 0x40 * (q)))
#define MODEL_QUEUES 8

struct model {
	uint8_t *bar;
	struct sn_ctx *ctx;
	pthread_t thread;
	atomic_bool stop;
	bool reset_hangs;            /* never complete a reset */
	unsigned lie_every;          /* write an impossible length every Nth frame */
	/* Set by a test: once, write a "done" write-back on the receive
	 * descriptor at the head without filling it or moving the head (a
	 * lying device); the model clears it when done. */
	atomic_bool fake_done_at_head;
	unsigned frames;
	unsigned frames_on[MODEL_QUEUES];  /* received on each queue */
	/* MSI-X messages the model sent, by vector: a frame received on a
	 * queue whose IVAR entry is valid sets the vector's EICR bit and,
	 * when EIMS has it, sends one, auto-masking (GPIE.EIAME, EIAM_EX)
	 * and auto-clearing (EIAC) the vector as asked. */
	atomic_uint interrupts[MODEL_QUEUES + 1];
	char violation[160];         /* the first datasheet rule broken */
	bool running;
};

/* The model's registers start zeroed; model_start runs its thread. */
int model_init(struct model *m, struct sn_ctx *ctx);
void model_start(struct model *m);
/* Stops the thread (if running) and frees the register file. */
void model_stop(struct model *m);
void model_fini(struct model *m);
/* Toeplitz hash of len bytes with a 40-byte key (len <= 36), as the
 * RSS specification defines it. */
uint32_t model_toeplitz(const uint8_t key[40], const uint8_t *in, unsigned len);
/* What the 82599 does with a frame under RSS (7.1.2.8): the RSS type it
 * writes back (0: not hashed) and the hash, for the fields MRQC enables
 * and the key in RSSRK. */
uint32_t model_rss(struct model *m, const uint8_t *frame, uint16_t len, uint32_t *hash);
struct sn_dev *model_open(struct model *m, const struct sn_dev_config *cfg,
			  struct sn_error *err);

#endif
