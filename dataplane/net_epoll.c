/* net_epoll.c: placeholder until its module lands. */
typedef int hp_placeholder_net_epoll;
