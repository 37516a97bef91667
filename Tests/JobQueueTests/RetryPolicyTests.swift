import Testing
@testable import JobQueue

@Suite struct RetryPolicyTests {
    @Test func delaysGrowExponentiallyWithJitterAndACap() {
        let policy = RetryPolicy(baseDelay: 1, maximumDelay: 10)
        for _ in 0..<50 {
            let first = policy.delay(afterAttempt: 1)
            let third = policy.delay(afterAttempt: 3)
            let tenth = policy.delay(afterAttempt: 10)
            #expect((0.5...1).contains(first))
            #expect((2...4).contains(third))
            #expect((5...10).contains(tenth))
        }
    }
}
