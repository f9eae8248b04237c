/* placeholder until the controller lands */
int main(void) { return 0; }
