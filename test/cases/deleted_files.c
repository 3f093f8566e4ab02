#include "caselib.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void){ char p[256], q[256]; int fd, fd2; char buf[64]; char *m;
 case_init(); snprintf(p,sizeof p,"%s/crest-del-XXXXXX",case_tmpdir()); fd=mkstemp(p); write(fd,"hello deleted world",19); lseek(fd,6,SEEK_SET); unlink(p);
 snprintf(q,sizeof q,"%s/crest-delm-XXXXXX",case_tmpdir()); fd2=mkstemp(q); ftruncate(fd2,8192); m=mmap(0,8192,PROT_READ|PROT_WRITE,MAP_SHARED,fd2,0); strcpy(m,"mapped and gone"); close(fd2); unlink(q);
 case_ready(); case_wait_go();
 if (read(fd,buf,7)!=7 || memcmp(buf,"deleted",7)) case_fail("deleted file: read '%.7s'", buf);
 if (strcmp(m,"mapped and gone")) case_fail("deleted mapping holds '%s'", m);
 snprintf(buf,sizeof buf,"/proc/self/fd/%d",fd); char l[300]={0}; readlink(buf,l,sizeof l-1);
 if (!strstr(l,"(deleted)")) case_fail("fd is '%s', not a deleted file", l);
 case_pass(); }
