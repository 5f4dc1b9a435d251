// Command-line arguments of one dsv4 subcommand: `--name value`, `--flag`, positionals.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace dsv4::cli {

class Args {
public:
    // `flags` lists the options that take no value; every other `--x` takes the next word.
    Args(int argc, char** argv, int first, const std::set<std::string>& flags) {
        for (int i = first; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) == 0 && a.size() > 2) {
                std::string name = a.substr(2);
                auto eq = name.find('=');
                if (eq != std::string::npos) {
                    values_[name.substr(0, eq)] = name.substr(eq + 1);
                } else if (flags.count(name)) {
                    values_[name] = "";
                } else {
                    if (i + 1 >= argc) throw std::invalid_argument("option --" + name + " needs a value");
                    values_[name] = argv[++i];
                }
            } else {
                positional_.push_back(a);
            }
        }
    }
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::optional<std::string> get(const std::string& name) const {
        auto it = values_.find(name);
        if (it == values_.end()) return std::nullopt;
        used_.insert(name);
        return it->second;
    }
    std::string require(const std::string& name) const {
        auto v = get(name);
        if (!v) throw std::invalid_argument("missing required option --" + name);
        return *v;
    }
    std::string get_or(const std::string& name, const std::string& def) const {
        auto v = get(name);
        return v ? *v : def;
    }
    long long get_int(const std::string& name, long long def) const {
        auto v = get(name);
        if (!v) return def;
        try {
            size_t pos = 0;
            long long x = std::stoll(*v, &pos);
            if (pos != v->size()) throw std::invalid_argument("");
            return x;
        } catch (const std::exception&) {
            throw std::invalid_argument("option --" + name + " expects an integer, got '" + *v + "'");
        }
    }
    double get_double(const std::string& name, double def) const {
        auto v = get(name);
        if (!v) return def;
        try {
            size_t pos = 0;
            double x = std::stod(*v, &pos);
            if (pos != v->size()) throw std::invalid_argument("");
            return x;
        } catch (const std::exception&) {
            throw std::invalid_argument("option --" + name + " expects a number, got '" + *v + "'");
        }
    }
    bool flag(const std::string& name) const {
        if (!has(name)) return false;
        used_.insert(name);
        return true;
    }
    const std::vector<std::string>& positional() const { return positional_; }
    // Throws on an option the command `cmd` never looked at (a typo must not be ignored), and on a
    // positional argument unless the command takes them.
    void reject_unused(const char* cmd, bool positional_ok = false) const {
        auto u = unused();
        if (!u.empty()) throw std::invalid_argument("unknown option " + u.front() + " for " + cmd);
        if (!positional_ok && !positional_.empty())
            throw std::invalid_argument("unexpected argument '" + positional_.front() + "' for " + cmd);
    }
    // Options given on the command line that the command never looked at.
    std::vector<std::string> unused() const {
        std::vector<std::string> out;
        for (auto& [k, v] : values_)
            if (!used_.count(k)) out.push_back("--" + k);
        return out;
    }

private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
    mutable std::set<std::string> used_;
};

}  // namespace dsv4::cli
