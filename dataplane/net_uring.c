/* net_uring.c: placeholder until its module lands. */
typedef int hp_placeholder_net_uring;
