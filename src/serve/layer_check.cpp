// The entry point of the layer checks (CMakeLists.txt): each links one
// layer's objects with only the libraries that layer declares; it is never run.
int main() {
  return 0;
}
