import Testing
@testable import JobQueue

@Suite struct PostgresLocationTests {
    @Test func readsLibpqURLs() throws {
        let location = try PostgresLocation(url: "postgresql://web%40site:p%2Fss@db.example:6543/vq%20ueue?sslmode=require")
        #expect(location.user == "web@site" && location.password == "p/ss")
        #expect(location.host == "db.example" && location.port == 6543 && location.database == "vq ueue")
        #expect(location.tls == .require)
        #expect(!location.description.contains("p/ss") && !location.description.contains("p%2Fss"))
    }

    @Test func defaultsToPort5432AndPreferredTLS() throws {
        let location = try PostgresLocation(url: "postgres://vqueue@[::1]/queue")
        #expect(location.host == "::1" && location.port == 5432 && location.password == nil && location.tls == .prefer)
    }

    @Test(arguments: ["postgres://host/db", "postgres://user@/db", "postgres://user@host", "postgres://user@host/",
                      "postgres://user@host/db?sslmode=sometimes", "postgres://user@host/db?timeout=5", "/var/lib/queue.db"])
    func refusesIncompleteURLs(url: String) {
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: url) }
    }

    @Test func tellsURLsFromPaths() {
        #expect(PostgresLocation.isPostgresURL("POSTGRES://u@h/d") && PostgresLocation.isPostgresURL("postgresql://u@h/d"))
        #expect(!PostgresLocation.isPostgresURL("./postgres://x") && !PostgresLocation.isPostgresURL("queue.db"))
    }
}
