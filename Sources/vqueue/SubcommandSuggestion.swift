import ArgumentParser

/// "Did you mean `submit`?": a mistyped subcommand is named as such, with
/// the nearest one, instead of ArgumentParser's "3 unexpected arguments".
enum SubcommandSuggestion {
    /// The usage error for `arguments` if a word where a subcommand belongs
    /// is none; nil when the words name subcommands (or there are none).
    static func error(for arguments: [String]) -> String? {
        error(for: arguments, configuration: VQueue.configuration, path: "vqueue", extra: ["help"])
    }

    private static func error(for arguments: [String], configuration: CommandConfiguration,
                              path: String, extra: [String] = []) -> String? {
        guard !configuration.subcommands.isEmpty, let word = arguments.first, !word.hasPrefix("-") else { return nil }
        let subcommands = configuration.subcommands.map { (name: $0._commandName, configuration: $0.configuration) }
        if let next = subcommands.first(where: { $0.name == word }) {
            return error(for: Array(arguments.dropFirst()), configuration: next.configuration, path: "\(path) \(word)")
        }
        let names = subcommands.map(\.name) + extra
        if names.contains(word) { return nil }
        let nearest = names.map { (name: $0, distance: distance(word.lowercased(), $0)) }.min { $0.distance < $1.distance }
        if let nearest, nearest.distance <= max(1, min(2, word.count / 3)) {
            return "unknown command '\(word)'; did you mean '\(path) \(nearest.name)'?"
        }
        // Under a command with a default subcommand the word may be its argument.
        guard configuration.defaultSubcommand == nil else { return nil }
        return "unknown command '\(word)'; the commands are \(names.joined(separator: ", "))."
    }

    /// Edits (insertion, deletion, substitution, swap of neighbours) from a to b.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
