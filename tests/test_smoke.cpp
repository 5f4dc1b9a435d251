#include <gtest/gtest.h>
#include "cli/args.h"
TEST(Args, ParsesOptionsAndFlags) {
    const char* argv[] = {"x", "--model", "m", "--greedy", "--n=3", "pos"};
    dsv4::cli::Args a(6, const_cast<char**>(argv), 1, {"greedy"});
    EXPECT_EQ(a.require("model"), "m");
    EXPECT_TRUE(a.flag("greedy"));
    EXPECT_EQ(a.get_int("n", 0), 3);
    ASSERT_EQ(a.positional().size(), 1u);
    EXPECT_THROW(a.get_int("model", 0), std::invalid_argument);
}
