"""X-Ray active tracing on every function, with the rights Lambda needs to send the segments."""

import cfn


def test_every_function_traces_actively(template, resolver):
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    functions = resolver.resources("AWS::Serverless::Function")
    assert len(functions) == 3
    for lid in functions:
        assert resolver.props(lid).get("Tracing", "Active") == "Active", lid


def test_every_function_role_may_send_its_traces(template, resolver):
    for lid in resolver.resources("AWS::Serverless::Function"):
        role = resolver.props(lid)["Role"]
        role_lid = template["Resources"][lid]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert role.endswith(f"{role_lid}-ABC123")
        p = cfn.Policy(cfn.role_statements(resolver, role_lid))
        assert p.allows("xray:PutTraceSegments", "*") and p.allows("xray:PutTelemetryRecords", "*"), role_lid
