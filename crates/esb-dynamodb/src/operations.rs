//! The operations the listener serves, named by `X-Amz-Target`: DynamoDB's own
//! (`DynamoDB_20120810.*`) and DynamoDB Streams' (`DynamoDBStreams_20120810.*`).

const DYNAMODB_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810.";

macro_rules! operations {
    (dynamodb: [$($d:ident),* $(,)?], streams: [$($s:ident),* $(,)?]) => {
        /// One operation of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation { $($d,)* $($s,)* }

        impl Operation {
            /// The operation `X-Amz-Target` names; `None` for anything else.
            pub fn from_target(target: &str) -> Option<Self> {
                if let Some(op) = target.strip_prefix(DYNAMODB_PREFIX) {
                    return match op { $(stringify!($d) => Some(Self::$d),)* _ => None };
                }
                let op = target.strip_prefix(STREAMS_PREFIX)?;
                match op { $(stringify!($s) => Some(Self::$s),)* _ => None }
            }

            /// The operation's name, as in its target.
            pub fn name(self) -> &'static str {
                match self { $(Self::$d => stringify!($d),)* $(Self::$s => stringify!($s),)* }
            }

            /// The `X-Amz-Target` that names it.
            pub fn target(self) -> String {
                match self {
                    $(Self::$d => format!("{DYNAMODB_PREFIX}{}", stringify!($d)),)*
                    $(Self::$s => format!("{STREAMS_PREFIX}{}", stringify!($s)),)*
                }
            }
        }
    };
}

operations! {
    dynamodb: [
        BatchExecuteStatement, BatchGetItem, BatchWriteItem, CreateTable, DeleteItem,
        DeleteTable, DescribeEndpoints, DescribeLimits, DescribeTable, DescribeTimeToLive,
        ExecuteStatement, ExecuteTransaction, GetItem, ListTables, ListTagsOfResource,
        PutItem, Query, Scan, SearchVectors, TagResource, TransactGetItems, TransactWriteItems,
        UntagResource, UpdateItem, UpdateTable, UpdateTimeToLive,
    ],
    streams: [DescribeStream, GetRecords, GetShardIterator, ListStreams]
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn targets_name_operations_of_their_api_only() {
        assert_eq!(
            Operation::from_target("DynamoDB_20120810.PutItem"),
            Some(Operation::PutItem)
        );
        assert_eq!(
            Operation::from_target("DynamoDBStreams_20120810.GetRecords"),
            Some(Operation::GetRecords)
        );
        assert_eq!(
            Operation::from_target("DynamoDBStreams_20120810.PutItem"),
            None
        );
        assert_eq!(Operation::from_target("DynamoDB_20120810.GetRecords"), None);
        assert_eq!(Operation::from_target("DynamoDB_20120810.Nope"), None);
        assert_eq!(
            Operation::GetShardIterator.target(),
            "DynamoDBStreams_20120810.GetShardIterator"
        );
    }
}
