/* slot.c: placeholder until its module lands. */
typedef int hp_placeholder_slot;
