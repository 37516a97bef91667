import Testing
@testable import JobQueue

@Suite struct PostgresConnectionStringTests {
    @Test(arguments: [
        "postgres://vqueue@db.example:5432/vqueue",
        "postgresql://db.example/vqueue",
        "POSTGRES://db/vqueue",
        "postgres:///vqueue?host=/var/run/postgresql",
        "host=db.example dbname=vqueue sslmode=verify-full",
        "service=vqueue",
        "  dbname=vqueue",
    ])
    func recognisesLibpqURLsAndKeywordStrings(text: String) {
        #expect(PostgresConnectionString.recognises(text))
    }

    @Test(arguments: ["/var/lib/vqueue/queue.db", "queue.db", "./a=b.db", "/tmp/host=x.db", "postgres.db", "hostile=1.db"])
    func takesEverythingElseForAnSQLiteFile(text: String) {
        #expect(!PostgresConnectionString.recognises(text))
    }

    @Test(arguments: [
        ("postgres://vqueue:s3cret@db.example:5432/vqueue", "postgres://vqueue@db.example:5432/vqueue"),
        ("postgres://vqueue:pa/ss@db.example/vqueue", "postgres://vqueue@db.example/vqueue"),
        ("postgres://vqueue:p@ss@db.example/vqueue?sslmode=require", "postgres://vqueue@db.example/vqueue"),
        ("postgres://vqueue:p%2Fss@db.example/vqueue", "postgres://vqueue@db.example/vqueue"),
        ("postgres:///vqueue?host=/var/run/postgresql&password=x", "postgres:///vqueue?host=/var/run/postgresql"),
        ("host=db.example password='se cret' dbname=vqueue user=farm", "dbname=vqueue host=db.example user=farm"),
    ])
    func namesTheDatabaseWithoutItsPassword(text: String, shown: String) {
        let name = PostgresConnectionString(text).displayName
        #expect(name == shown)
        for secret in ["s3cret", "pa/ss", "p@ss", "p%2Fss", "se cret"] { #expect(!name.contains(secret)) }
    }

    @Test func refusesAURLWhosePasswordEndsTheUserPartEarly() {
        #expect(PostgresConnectionString("postgres://vqueue:pa/ss@db/vqueue").problem != nil)
        #expect(PostgresConnectionString("postgres://vqueue:pa?ss@db/vqueue").problem != nil)
        #expect(PostgresConnectionString("postgres://vqueue:pa%2Fss@db/vqueue").problem == nil)
        #expect(PostgresConnectionString("host=db dbname=vqueue").problem == nil)
    }

    @Test func scrubsEverySpellingOfThePasswordFromMessages() {
        let url = PostgresConnectionString("postgres://vqueue:p%2Fss@db/vqueue")
        #expect(url.scrubbed("bad password p/ss or p%2Fss") == "bad password *** or ***")
        let words = PostgresConnectionString("host=db password=hunter2 dbname=q")
        #expect(words.scrubbed("auth hunter2 failed") == "auth *** failed")
    }

    @Test func numbersPlaceholdersOutsideStringLiterals() {
        #expect(PostgresConnection.numberingPlaceholders("SELECT ?, '?', ? WHERE a = ?") == "SELECT $1, '?', $2 WHERE a = $3")
    }
}
