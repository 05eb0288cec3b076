#include "base/file_slice.h"

#include <unistd.h>

namespace runnel {

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace runnel
