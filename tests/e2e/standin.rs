//! The local stand-in judges requests as AWS would: CreateTrainingJob and PutEvents are checked against botocore's service models, so a request AWS would refuse fails here too.
