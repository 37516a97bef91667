import Testing

/// The two stores every conformance and worker test runs on:
/// `@Test(arguments: StoreKind.allCases)`.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// An SQLite file in the test's own temporary folder.
    case sqlite
    /// A database of the test's own on the server named by VQUEUE_TEST_POSTGRES.
    case postgres

    var testDescription: String { self == .sqlite ? "SQLite" : "PostgreSQL" }
}
