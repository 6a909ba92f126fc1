/* main.c: placeholder until its module lands. */
typedef int hp_placeholder_main;
int main(void) { return 0; }
