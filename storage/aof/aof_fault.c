/*
 * aof_fault.c - fault injection for the unit tests (HP_AOF_FAULT_INJECTION,
 * only in hpaof_test): failed writes, syncs, segment creations,
 * io_uring failures and a delay before the idle wait.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#ifdef HP_AOF_FAULT_INJECTION
void aof_log_inject_fault(struct aof_log *l, enum aof_fault_op op, uint32_t count, int err)
{
    HP_ASSERT(op < AOF_FAULT_NOPS && err > 0);
    atomic_store(&l->fault_err[op], err);
    atomic_store(&l->fault_count[op], count);
}

void aof_log_inject_idle_delay(struct aof_log *l, uint32_t us)
{
    atomic_store(&l->idle_delay_us, us);
}

void aof_fault_idle_delay(struct aof_log *l)
{
    uint32_t us = atomic_load_explicit(&l->idle_delay_us, memory_order_relaxed);
    if (us > 0)
        sleep_us(us);
}

/* 0, or the injected negative errno (consuming one of the count). */
int aof_fault_hit(struct aof_log *l, enum aof_fault_op op)
{
    uint32_t n = atomic_load(&l->fault_count[op]);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&l->fault_count[op], &n, n - 1))
            return -atomic_load(&l->fault_err[op]);
    }
    return 0;
}
#endif
