// Dumps, for each class, the code points that the system PCRE2 matches (UTF + UCP) as JSON:
//   g++ -O2 tools/unicode/pcre_classes.cpp -lpcre2-8 -o /tmp/pc && /tmp/pc > pcre.json
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cstdio>
#include <string>
#include <vector>
void enc(std::string& o, unsigned cp){ if(cp<0x80)o+=char(cp); else if(cp<0x800){o+=char(0xC0|cp>>6);o+=char(0x80|(cp&63));} else if(cp<0x10000){o+=char(0xE0|cp>>12);o+=char(0x80|((cp>>6)&63));o+=char(0x80|(cp&63));} else {o+=char(0xF0|cp>>18);o+=char(0x80|((cp>>12)&63));o+=char(0x80|((cp>>6)&63));o+=char(0x80|(cp&63));}}
int main(){
  const char* names[]={"L","M","N","P","S","s","w"}; const char* pats[]={"\\p{L}","\\p{M}","\\p{N}","\\p{P}","\\p{S}","\\s","\\w"};
  printf("{");
  for(int k=0;k<7;k++){
    int e; PCRE2_SIZE off; auto* c=pcre2_compile((PCRE2_SPTR)pats[k],PCRE2_ZERO_TERMINATED,PCRE2_UTF|PCRE2_UCP|PCRE2_ANCHORED,&e,&off,nullptr);
    auto* md=pcre2_match_data_create_from_pattern(c,nullptr);
    printf("%s\"%s\":[",k?",":"",names[k]); bool first=true;
    for(unsigned cp=0;cp<0x110000;cp++){ if(cp>=0xD800&&cp<=0xDFFF)continue; std::string s; enc(s,cp);
      if(pcre2_match(c,(PCRE2_SPTR)s.data(),s.size(),0,0,md,nullptr)>0){printf("%s%u",first?"":",",cp);first=false;}}
    printf("]");
  }
  printf("}\n");
}
