"""greeter: makes the greeting; called by hello through boto3."""


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"greeting {name}")
    return {"message": f"Hello, {name}!", "function": context.function_name}
